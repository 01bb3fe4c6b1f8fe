//! `keys list|rotate|retire`: the key pairs that sign access tokens.

use super::*;

#[derive(Subcommand)]
pub(super) enum KeysCommand {
    /// Every signing key with its algorithm and state (signing, published, verifying,
    /// retired).
    List,
    /// Publish a new key now; it signs after jwks_max_age, and the current key keeps
    /// verifying until the tokens it signed have expired. Needs signing_key_secret.
    Rotate,
    /// End a key at once (compromised): it signs nothing more and its tokens stop
    /// verifying; a published key takes over, or the server makes a new one.
    Retire {
        /// A kid may begin with `-` (base64url): it is taken as the kid, not a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub(super) async fn keys(command: KeysCommand, database: DatabaseArg) -> CliResult {
    use crate::tokens::{keyring, signing_keys};
    // Checked before `open_app` fills missing secrets with random ones (debug runs
    // have the development secret the server shares, see `config::dev_secrets`).
    let sealing_configured = crate::figment()
        .extract_inner::<String>("gatehouse.signing_key_secret")
        .is_ok_and(|secret| !secret.trim().is_empty());
    let app = open_app(&database).await?;
    let now = app.now();
    match command {
        KeysCommand::List => {
            let keys = signing_keys::all(app.pool())
                .await
                .map_err(AppError::from)?;
            if keys.is_empty() {
                println!("no signing keys yet (the server makes the first at its start)");
            }
            for key in keys {
                println!(
                    "{}  {:<5}  {}",
                    key.kid,
                    key.algorithm,
                    key_state(&key, now)
                );
            }
            Ok(())
        }
        KeysCommand::Rotate => {
            if !sealing_configured {
                return Err(Failure(format!(
                    "rotating needs the server's signing_key_secret (set {}SIGNING_KEY_SECRET), \
                     which seals the new key so the server can use it",
                    crate::config::ENV_PREFIX
                )));
            }
            let rotation =
                keyring::rotate(app.pool(), &app.settings.tokens, app.keys.sealer(), now)
                    .await
                    .map_err(Failure)?;
            println!(
                "published {}; it signs from {} UTC (after jwks_max_age), and the keys it \
                 replaces verify until {} UTC",
                rotation.kid,
                crate::clock::utc_minute(rotation.signs_from),
                crate::clock::utc_minute(rotation.old_keys_verify_until)
            );
            for kid in rotation.superseded {
                println!("{kid}, published by an earlier rotation, will never sign: replaced");
            }
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            if !signing_keys::retire(app.pool(), &kid, now)
                .await
                .map_err(AppError::from)?
            {
                return Err(Failure(format!(
                    "no key {kid} is in use (see `{} keys list`)",
                    env!("CARGO_PKG_NAME")
                )));
            }
            println!(
                "retired {kid}: it signs nothing more and its tokens no longer verify (running \
                 instances follow within {} seconds)",
                keyring::RELOAD_SECONDS
            );
            Ok(())
        }
    }
}

/// A key's state at `now`, in words.
pub(super) fn key_state(key: &crate::tokens::signing_keys::SigningKeyRow, now: i64) -> String {
    use crate::clock::utc_minute;
    if !key.verifies_at(now) {
        return format!(
            "retired {} UTC",
            utc_minute(key.verifies_until.unwrap_or(now))
        );
    }
    if key.signs_at(now) {
        return format!("signing since {} UTC", utc_minute(key.signs_from));
    }
    if key.pending_at(now) {
        return format!("published, signs from {} UTC", utc_minute(key.signs_from));
    }
    match key.verifies_until {
        Some(until) => format!("verifying until {} UTC", utc_minute(until)),
        None => "verifying".into(),
    }
}
