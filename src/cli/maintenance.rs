//! `migrate`, `prune` and `doctor`: the database's schema and upkeep, and what a
//! changed secret broke.

use super::*;

pub(super) async fn prune(database: DatabaseArg) -> CliResult {
    let app = open_app(&database).await?;
    let pruned = crate::pruning::prune(app.pool(), &app.settings.bounds, app.now())
        .await
        .map_err(AppError::from)?;
    println!("{}", pruned.summary());
    Ok(())
}

/// Checks what a changed secret broke; run with the secrets the server has, never
/// with random ones (a random key would open nothing).
pub(super) async fn doctor(database: DatabaseArg) -> CliResult {
    let (app, _, _) = open_app_with(&database, Secrets::AsConfigured).await?;
    let settings = &app.settings;
    // A secret the setup does not need is not checked; one it needs must be given.
    let check_keys = !settings.tokens.signing_key_secret_is_ephemeral;
    if settings.tokens.access_token_algorithm.is_asymmetric() && !check_keys {
        return Err(Failure(format!(
            "{}SIGNING_KEY_SECRET is not set, so there is nothing to check against. Give the \
             doctor the server's settings.",
            crate::config::ENV_PREFIX
        )));
    }
    let now = app.now();
    let mut problems = 0;
    // Each part checks what its own keys sealed (two-factor: the TOTP secrets).
    for part in crate::feature::hooks::installed(&app)? {
        if let Some(checkup) = part.doctor(&app).await? {
            problems += checkup.problems;
            for line in checkup.lines {
                println!("{line}");
            }
        }
    }
    if !check_keys {
        println!("Signing keys: tokens are HS256, and no signing_key_secret is set; not checked.");
    }
    let keys = if check_keys {
        crate::tokens::keyring::unsealable(app.pool(), app.keys.sealer(), now)
            .await
            .map_err(AppError::from)?
    } else {
        Vec::new()
    };
    if check_keys && keys.is_empty() {
        println!("Signing keys: every key that may sign unseals under signing_key_secret.");
    }
    for key in &keys {
        problems += 1;
        println!(
            "Signing keys: {} ({}) does not unseal under signing_key_secret; give the server \
             the secret it was sealed with, or run `{} keys retire {}`.",
            key.kid,
            key.algorithm,
            env!("CARGO_PKG_NAME"),
            key.kid,
        );
    }
    if problems > 0 {
        return Err(Failure(format!(
            "{problems} problem{} found.",
            if problems == 1 { "" } else { "s" }
        )));
    }
    println!("No problems found.");
    Ok(())
}

pub(super) async fn migrate(database: DatabaseArg) -> CliResult {
    let (_, _, applied) = open_app_migrating(&database).await?;
    if applied.is_empty() {
        println!("the schema is up to date: nothing to apply");
    } else {
        let versions: Vec<String> = applied.iter().map(i64::to_string).collect();
        println!(
            "applied migrations {}; the schema is up to date",
            versions.join(", ")
        );
    }
    Ok(())
}
