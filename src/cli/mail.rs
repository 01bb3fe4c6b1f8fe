//! `mail test`: a message through the configured transport, now.

use super::*;

#[derive(Subcommand)]
pub(super) enum MailCommand {
    /// Send a test message to ADDRESS through the configured transport, now, and say
    /// how it went.
    Test { address: String },
}

pub(super) async fn mail(command: MailCommand, database: DatabaseArg) -> CliResult {
    let MailCommand::Test { address } = command;
    let to: lettre::message::Mailbox = address
        .trim()
        .parse()
        .map_err(|_| Failure(format!("{:?} is not an email address", shown(&address))))?;
    let app = open_app(&database).await?;
    let brand = crate::config::brand();
    let public_url = &app.settings.mail.public_url;
    let letter = crate::mail::Letter::render(
        to,
        format!("Test message from {brand}"),
        "test",
        None,
        &crate::mail::TestText {
            app: &brand,
            public_url,
        },
        &crate::mail::TestHtml {
            app: &brand,
            public_url,
        },
    )
    .map_err(|e| Failure(format!("the test message could not be rendered: {e}")))?;
    match app.outbox.send_now(letter).await {
        Ok(crate::mail::Delivered::Smtp) => {
            println!(
                "Sent a test message to {} through SMTP.",
                shown(address.trim())
            );
            Ok(())
        }
        Ok(crate::mail::Delivered::File(path)) => {
            println!(
                "Wrote a test message to {} into {path}.",
                shown(address.trim())
            );
            Ok(())
        }
        Err(error) => Err(Failure(format!("the test message was not sent: {error}"))),
    }
}
