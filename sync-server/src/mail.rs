//! Outgoing e-mail (password resets) over SMTP with lettre.

use anyhow::{bail, Context};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::Config;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// `None` when no SMTP host is configured.
    pub fn from_config(c: &Config) -> anyhow::Result<Option<Mailer>> {
        let Some(host) = c.smtp_host.as_deref() else { return Ok(None) };
        let builder = match c.smtp_security.as_str() {
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            other => bail!("SMTP_SECURITY is {other:?}; use starttls, tls or none"),
        };
        let mut builder = builder.port(c.smtp_port);
        if let (Some(user), Some(password)) = (&c.smtp_username, &c.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = c.smtp_from.parse().with_context(|| format!("SMTP_FROM {:?} is not an address", c.smtp_from))?;
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            public_url: c.public_url.trim_end_matches('/').to_string(),
        }))
    }

    pub async fn send_password_reset(&self, to: &str, token: &str) -> anyhow::Result<()> {
        let link = format!("{}/reset-password?token={token}", self.public_url);
        let body = format!(
            "Hello,\r\n\r\nsomeone (hopefully you) asked to reset the password of your ExpensoTrack account.\r\n\
             Open this link within an hour to choose a new one:\r\n\r\n{link}\r\n\r\n\
             The link works once. If you did not ask for it, ignore this e-mail: your password stays as it is.\r\n"
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse().context("the recipient's address")?)
            .subject("Reset your ExpensoTrack password")
            .body(body)
            .context("building the e-mail")?;
        self.transport.send(message).await.context("sending the e-mail")?;
        Ok(())
    }
}
