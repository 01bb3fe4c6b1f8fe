-- 0014: the key pairs that sign access tokens (EdDSA or ES256). A key is published
-- (in the JWKS) from its creation, signs from `signs_from` until `signs_until` (none:
-- until a newer key takes over) and verifies until `verifies_until` (none: while it
-- may still sign). Its private half is sealed under `signing_key_secret`, bound to
-- its kid. `generation` is unique, so of several instances making the first key (or
-- rotating) at once exactly one succeeds and the others adopt its key. `ephemeral`
-- marks a key sealed under a random per-run secret (a debug run without
-- signing_key_secret): only such a key is replaced when it cannot be opened.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    generation BIGINT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL,
    signs_until BIGINT,
    verifies_until BIGINT,
    ephemeral BIGINT NOT NULL DEFAULT 0
);
