//! Standard Webhooks signatures with the specification's reference implementation (`standardwebhooks`):
//! `webhook-signature` is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, and while a rotated-out secret still
//! signs (24 hours), a second `v1,<…>` follows after a space, so receivers that hold either secret accept it.
use secrecy::ExposeSecret;
use standardwebhooks::Webhook;

use crate::crypto::Keyring;
use crate::store::forwarding::DestinationRow;

/// `msg_` and the notificationUUID without its dashes: the same for every attempt, redeliver and replay of one
/// notification, which is what lets a receiver drop duplicates.
pub fn webhook_id(notification_uuid: &str) -> String {
    format!("msg_{}", notification_uuid.replace('-', ""))
}

/// A destination's secrets, opened: the current one, and the previous one with the time it stops signing.
pub struct Signer {
    current: Webhook,
    previous: Option<(Webhook, i64)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    /// Opens the destination's sealed secrets with the master keys this instance holds.
    pub fn open(
        keyring: &Keyring,
        destination: &DestinationRow,
        now: i64,
    ) -> anyhow::Result<Signer> {
        let open = |sealed: &[u8], master_key_id: &str| -> anyhow::Result<Webhook> {
            let secret = crate::keys::open_forward_secret(
                keyring,
                destination.project_id,
                destination.id,
                sealed,
                master_key_id,
            )?;
            Webhook::new(secret.expose_secret()).map_err(|_| {
                anyhow::anyhow!("the destination's signing secret is not a whsec_ secret")
            })
        };
        let current = open(&destination.sealed_secret, &destination.master_key_id)?;
        let previous = match (
            destination.previous_in_force(now),
            destination.previous_until,
        ) {
            (Some((sealed, key)), Some(until)) => Some((open(sealed, key)?, until)),
            _ => None,
        };
        Ok(Signer { current, previous })
    }

    /// From a secret as a person holds it (`whsec_…`), for tests and the test event.
    pub fn from_secret(secret: &str) -> anyhow::Result<Signer> {
        Ok(Signer {
            current: Webhook::new(secret).map_err(|_| anyhow::anyhow!("not a whsec_ secret"))?,
            previous: None,
        })
    }

    /// The `webhook-signature` header's value for `id`, `timestamp` (seconds) and `body`, at `now` (ms).
    pub fn signature(&self, id: &str, timestamp: i64, body: &str, now: i64) -> String {
        let sign = |w: &Webhook| w.sign(id, timestamp, body.as_bytes()).unwrap_or_default();
        let current = sign(&self.current);
        match &self.previous {
            Some((previous, until)) if *until > now => format!("{current} {}", sign(previous)),
            _ => current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_uuid_without_dashes() {
        assert_eq!(
            webhook_id("7e3fb20b-4cdb-47cc-936d-99d65f608138"),
            "msg_7e3fb20b4cdb47cc936d99d65f608138"
        );
    }

    #[test]
    fn the_signature_is_the_specifications_example() {
        // The example of the Standard Webhooks specification and its libraries' tests.
        let signer = Signer::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").ok();
        let got = signer.map(|s| {
            s.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#,
                0,
            )
        });
        assert_eq!(
            got.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }
}
