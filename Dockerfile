# blindvote: one image for every target (`blindvote serve --target T`, docker-compose.yml).
# The server runs its TypeScript sources directly (Node type stripping, no build step); only the
# web client is built, by Vite, in the build stage (it needs the dev dependencies).
#
#   docker build -t blindvote .
#   docker run --rm blindvote keys --name localhost        # keys for a distributed deployment
#   docker run --rm -p 8080:8080 -e BLINDVOTE_HOST=0.0.0.0 -v blindvote-data:/data blindvote serve
#
# The image MUST NOT contain secrets: .dockerignore keeps .env and .data out of the context.
ARG NODE_IMAGE=node:22-bookworm-slim

# Every workspace's manifest, so `npm ci` resolves the workspaces before the sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY crypto/package.json crypto/
COPY bulletin-board/package.json bulletin-board/
COPY issuer/package.json issuer/
COPY ballot-box/package.json ballot-box/
COPY tallier/package.json tallier/
COPY verifier/package.json verifier/
COPY web/package.json web/
COPY server/package.json server/

# The web client: all dependencies (Vite is a dev dependency), then `npm run build -w web`.
FROM manifests AS web
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY crypto/ crypto/
COPY web/ web/
RUN npm run build -w web

# Production dependencies only.
FROM manifests AS deps
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV BLINDVOTE_HOST=0.0.0.0 \
    BLINDVOTE_DATA_DIR=/data
WORKDIR /app
# The manifests and node_modules, nested workspace node_modules included.
COPY --from=deps /app ./
COPY crypto/ crypto/
COPY bulletin-board/ bulletin-board/
COPY issuer/ issuer/
COPY ballot-box/ ballot-box/
COPY tallier/ tallier/
COPY verifier/ verifier/
COPY server/ server/
COPY web/package.json web/
COPY --from=web /app/web/dist web/dist/
# The data directory (the issuer's admin-password file; the all-in-one mode's databases) belongs
# to the unprivileged user; a named volume mounted there inherits this ownership.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["node", "--disable-warning=ExperimentalWarning", "server/src/cli.ts"]
CMD ["serve"]
