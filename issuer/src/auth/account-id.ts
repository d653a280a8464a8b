/**
 * Account ids: what the roll lists and issuance rows name. Two disjoint namespaces:
 * - built-in accounts: the username, `[a-z0-9][a-z0-9._-]{2,63}` (no ':');
 * - identity-provider users: `idp:<claim value>`, the value printable ASCII without space,
 *   '"' or ',' (so a roll stays one plain CSV column), 1..255 characters.
 * Because usernames cannot contain ':', no built-in account can take an IdP user's id.
 */
export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._-]{2,63}$';
export const IDP_PREFIX = 'idp:';

const USERNAME = new RegExp(USERNAME_PATTERN);
const IDP_VALUE = /^[\x21\x23-\x2b\x2d-\x7e]{1,255}$/;

export function isUsername(value: string): boolean {
  return USERNAME.test(value);
}

/** The account id of an identity-provider user, or null when the claim value cannot be one. */
export function idpAccountId(claim: unknown): string | null {
  return typeof claim === 'string' && IDP_VALUE.test(claim) ? `${IDP_PREFIX}${claim}` : null;
}

/** Why `value` is not an account id, or null when it is one. */
export function accountIdProblem(value: string): string | null {
  if (value.startsWith(IDP_PREFIX)) {
    return IDP_VALUE.test(value.slice(IDP_PREFIX.length))
      ? null
      : 'not an identity-provider account id: "idp:" then 1..255 printable ASCII characters, no space, \'"\' or \',\'';
  }
  return isUsername(value) ? null : 'not an account id: a username [a-z0-9][a-z0-9._-]{2,63} or "idp:<id>"';
}
