# Source this file (`. scripts/use-node22.sh`): puts Node 22 LTS first on PATH.
# blindvote runs on Node 22 (engines in package.json). When the machine's node is another
# major version, Node 22 is installed once from the npm registry (the official binaries,
# published as node-<os>-<arch>) into ~/.cache/blindvote and used from there.
_bv_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$_bv_major" != 22 ]; then
  case "$(uname -s)" in Linux) _bv_os=linux ;; Darwin) _bv_os=darwin ;; *) echo "use-node22: unsupported OS $(uname -s)" >&2; return 1 ;; esac
  case "$(uname -m)" in x86_64|amd64) _bv_arch=x64 ;; aarch64|arm64) _bv_arch=arm64 ;; *) echo "use-node22: unsupported CPU $(uname -m)" >&2; return 1 ;; esac
  _bv_home="${BLINDVOTE_NODE_HOME:-$HOME/.cache/blindvote/node22}"
  _bv_bin="$_bv_home/node_modules/node-$_bv_os-$_bv_arch/bin"
  if [ ! -x "$_bv_bin/node" ]; then
    echo "use-node22: installing Node 22 into $_bv_home" >&2
    npm install --prefix "$_bv_home" --no-save --no-audit --no-fund --loglevel=error "node-$_bv_os-$_bv_arch@22" >&2 || return 1
  fi
  export PATH="$_bv_bin:$PATH"
fi
unset _bv_major _bv_os _bv_arch _bv_home _bv_bin
node -e 'if (process.versions.node.split(".")[0] !== "22") { console.error("use-node22: still not Node 22"); process.exit(1) }' || return 1
