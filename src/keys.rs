//! The ledger's ed25519 key, created with the store: it signs tree heads (`planledger
//! checkpoint`) so an auditor can later prove which log a checkpoint came from. The secret
//! stays in `<store>/ledger.key` (hex, mode 0600), outside the log.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::Digest;

use crate::codec::hex;
use crate::error::{Error, Result};

pub const KEY_FILE: &str = "ledger.key";

pub struct LedgerKey {
    signing: SigningKey,
}

fn unhex(field: &str, text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!("{field} is not hex")));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| Error::invalid(format!("{field} is not hex"))))
        .collect()
}

pub fn unhex32(field: &str, text: &str) -> Result<[u8; 32]> {
    let v = unhex(field, text)?;
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| Error::invalid(format!("{field} is not 32 bytes of hex")))
}

impl LedgerKey {
    /// Loads the store's key; a store without one (made before keys existed) gets one now.
    pub fn load_or_create(dir: &Path) -> Result<LedgerKey> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let seed = unhex32("ledger.key", &text).map_err(|e| e.at(path.display().to_string()))?;
                Ok(LedgerKey { signing: SigningKey::from_bytes(&seed) })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed)
                    .map_err(|e| Error::io("generating the ledger key", std::io::Error::other(e.to_string())))?;
                let mut f = std::fs::OpenOptions::new();
                f.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
                let mut file = f.open(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                file.write_all(hex(&seed).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                Ok(LedgerKey { signing: SigningKey::from_bytes(&seed) })
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// Checks an ed25519 signature by `public` over `message`.
pub fn verify_signature(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    // Strict: rejects weak keys and non-canonical signatures (no malleability).
    key.verify_strict(message, &sig).is_ok()
}

/// The store's key, which must exist: checking a signature must never make a new key.
pub fn load(dir: &Path) -> Result<LedgerKey> {
    if !dir.join(KEY_FILE).exists() {
        return Err(Error::invalid(format!("{} has no ledger key ({KEY_FILE})", dir.display())));
    }
    LedgerKey::load_or_create(dir)
}

pub fn unhex_any(field: &str, text: &str) -> Result<Vec<u8>> {
    unhex(field, text)
}

/// A principal's key pair, as `dept keygen` writes it: JSON `{"public_key","secret_key"}`
/// (hex). The file is created with mode 0600 and never leaves the department.
pub struct KeyPair {
    signing: SigningKey,
}

impl KeyPair {
    pub fn generate() -> Result<KeyPair> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::io("generating a key", std::io::Error::other(e.to_string())))?;
        Ok(KeyPair { signing: SigningKey::from_bytes(&seed) })
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub fn to_json(&self) -> String {
        format!(
            "{{\"algorithm\":\"ed25519\",\"public_key\":\"{}\",\"secret_key\":\"{}\"}}\n",
            hex(&self.public()),
            hex(&self.signing.to_bytes())
        )
    }

    pub fn write_new(&self, path: &Path) -> Result<()> {
        let mut f = std::fs::OpenOptions::new();
        f.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
        let mut file = f.open(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        file.write_all(self.to_json().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    pub fn read(path: &Path) -> Result<KeyPair> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| Error::invalid("not a key file").at(path.display().to_string()))?;
        let secret = v["secret_key"]
            .as_str()
            .ok_or_else(|| Error::invalid("key file has no secret_key").at(path.display().to_string()))?;
        let seed = unhex32("secret_key", secret).map_err(|e| e.at(path.display().to_string()))?;
        Ok(KeyPair { signing: SigningKey::from_bytes(&seed) })
    }
}

/// Reads a public key from a key file (`public_key`) or a file holding just the hex.
pub fn read_public(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let hex_text = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => v["public_key"].as_str().unwrap_or_default().to_string(),
        Err(_) => text.trim().to_string(),
    };
    let key = unhex32("public_key", &hex_text).map_err(|e| e.at(path.display().to_string()))?;
    if VerifyingKey::from_bytes(&key).map_or(true, |k| k.is_weak()) {
        return Err(Error::invalid("public_key is not an ed25519 key").at(path.display().to_string()));
    }
    Ok(key)
}

/// First line of a submission's canonical text.
pub const SUBMISSION_FORMAT: &str = "planledger-submission/1";

/// The text a principal signs for a submission (docs/identity.md): a format line, the
/// actor, the type, then every field as `key=value`, sorted by key, one per line, with `\`
/// and line breaks escaped. Any language can build it from the JSONL form of a submission.
pub fn canonical_text(actor: &str, kind: &str, fields: &std::collections::BTreeMap<String, String>) -> String {
    let esc = |v: &str| v.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
    let mut out = format!("{SUBMISSION_FORMAT}\nactor={}\ntype={}\n", esc(actor), esc(kind));
    for (k, v) in fields {
        out.push_str(&format!("{}={}\n", esc(k), esc(v)));
    }
    out
}

/// Parses a canonical text back into (actor, type, fields); `None` if it is not one.
pub fn parse_canonical(text: &str) -> Option<(String, String, std::collections::BTreeMap<String, String>)> {
    let unesc = |v: &str| -> String {
        let mut out = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let mut lines = text.strip_suffix('\n')?.split('\n');
    if lines.next()? != SUBMISSION_FORMAT {
        return None;
    }
    let actor = unesc(lines.next()?.strip_prefix("actor=")?);
    let kind = unesc(lines.next()?.strip_prefix("type=")?);
    let mut fields = std::collections::BTreeMap::new();
    for l in lines {
        let (k, v) = l.split_once('=')?;
        fields.insert(unesc(k), unesc(v));
    }
    Some((actor, kind, fields))
}

use crate::decide::{Command, EventRef, Submission, TargetSpec};
use crate::event::{Event, Payload};
use crate::model::fmt_decimal;
use crate::projection::State;

/// The type and fields of a submission, as its canonical text lists them: the JSONL form for
/// the submit kinds, and a form of their own for plan imports and key changes.
pub fn command_form(sub: &Submission) -> (String, std::collections::BTreeMap<String, String>) {
    let mut f = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.to_string(), v);
    };
    let event_ref = |r: &EventRef| match r {
        EventRef::Seq(s) => s.to_string(),
        EventRef::Id(id) => id.to_string(),
    };
    let kind = match &sub.command {
        Command::Investment { project, period, amount } => {
            put("project", project.clone());
            put("period", period.to_string());
            put("amount", fmt_decimal(*amount));
            "investment"
        }
        Command::Milestone { project, milestone, date } => {
            put("project", project.clone());
            put("milestone", milestone.to_string());
            put("date", date.to_string());
            "milestone"
        }
        Command::Actual { indicator, plan, period, value, basis } => {
            put("indicator", indicator.clone());
            if let Some(p) = plan {
                put("plan", p.clone());
            }
            put("period", period.to_string());
            put("value", fmt_decimal(*value));
            put("basis", basis.to_string());
            "actual"
        }
        Command::ReviseTarget { target, value, reason } => {
            let (k, id, plan) = match target {
                TargetSpec::Indicator { indicator, plan } => ("indicator", indicator, plan),
                TargetSpec::Project { project, plan } => ("project", project, plan),
            };
            put(k, id.clone());
            if let Some(p) = plan {
                put("plan", p.clone());
            }
            put("value", fmt_decimal(*value));
            put("reason", reason.clone());
            "revise-target"
        }
        Command::Correct { event, value, reason } => {
            put("event", event_ref(event));
            put("value", fmt_decimal(*value));
            put("reason", reason.clone());
            "correct"
        }
        Command::Retract { event, reason } => {
            put("event", event_ref(event));
            put("reason", reason.clone());
            "retract"
        }
        Command::ImportPlan(import) => {
            put("plan", import.plan.plan.clone());
            put("sha256", hex(&sha2::Sha256::digest(crate::codec::encode_record(import.as_ref()))));
            "plan-import"
        }
        Command::RegisterKey { principal, role, key } => {
            put("principal", principal.clone());
            if let Some(r) = role {
                put("role", r.to_string());
            }
            put("public_key", hex(key));
            "register-key"
        }
        Command::RevokeKey { principal, key, reason } => {
            put("principal", principal.clone());
            put("public_key", hex(key));
            put("reason", reason.clone());
            "revoke-key"
        }
    };
    if let Some(id) = sub.id {
        f.insert("id".into(), id.to_string());
    }
    if let Some(n) = &sub.note {
        f.insert("note".into(), n.clone());
    }
    (kind.to_string(), f)
}

/// Signs `sub` as `actor` with `pair`.
pub fn sign(pair: &KeyPair, actor: &str, sub: &mut Submission) {
    let (kind, fields) = command_form(sub);
    let signed = canonical_text(actor, &kind, &fields);
    let bytes = pair.sign(signed.as_bytes()).to_vec();
    sub.signature = Some(Box::new(crate::event::Signature { key: pair.public().to_vec(), bytes, signed }));
}

/// Whether a signed text says the same as `sub` from `actor`: the submit kinds are compared
/// by meaning (a signer may write "3.50" for 3.5), the others field by field.
fn text_matches(signed: &str, actor: &str, sub: &Submission) -> bool {
    let Some((a, kind, fields)) = parse_canonical(signed) else { return false };
    if a != actor {
        return false;
    }
    if crate::input::KINDS.contains(&kind.as_str()) {
        return crate::input::submission_from_fields(&kind, &fields)
            .is_ok_and(|s| s.command == sub.command && s.id == sub.id && s.note == sub.note);
    }
    command_form(sub) == (kind, fields)
}

/// Checks a submission's signature when it is made: it verifies, its key is registered to the
/// actor and not revoked, and its text says what the submission asks.
pub fn check_submission(state: &State, actor: &str, sub: &Submission) -> Result<()> {
    let Some(sig) = &sub.signature else { return Ok(()) };
    let key = <[u8; 32]>::try_from(sig.key.as_slice()).unwrap_or([0; 32]);
    if !verify_signature(&key, sig.signed.as_bytes(), &sig.bytes) {
        return Err(Error::Forbidden("the signature does not verify".into()));
    }
    if state.active_key(actor, &sig.key).is_none() {
        return Err(Error::Forbidden(format!(
            "key {} is not registered to '{actor}', or was revoked",
            &hex(&sig.key)[..16]
        )));
    }
    if !text_matches(&sig.signed, actor, sub) {
        return Err(Error::Forbidden("the signature covers another submission".into()));
    }
    Ok(())
}

/// Checks a stored event's signature (at `verify`): it verifies, its key was registered to the
/// actor and not revoked in `state` (the state just before the event), and its text says
/// what the event records. `None` if it holds, else what is wrong.
pub fn check_event(state: &State, event: &Event, resolve: &dyn Fn(&EventRef) -> Option<u64>) -> Option<String> {
    let sig = event.signature.as_ref()?;
    let key = <[u8; 32]>::try_from(sig.key.as_slice()).unwrap_or([0; 32]);
    if !verify_signature(&key, sig.signed.as_bytes(), &sig.bytes) {
        return Some("signature does not verify".into());
    }
    if state.active_key(&event.actor, &sig.key).is_none() {
        return Some(format!(
            "signed by key {} not registered to '{}' at that point",
            &hex(&sig.key)[..16],
            event.actor
        ));
    }
    let Some((actor, kind, fields)) = parse_canonical(&sig.signed) else {
        return Some("signed text is not a submission".into());
    };
    let same = actor == event.actor
        && fields.get("id").is_none_or(|id| *id == event.id.to_string())
        && match kind.as_str() {
            k if crate::input::KINDS.contains(&k) => crate::input::submission_from_fields(k, &fields)
                .is_ok_and(|s| crate::decide::same_submission(&s, &event.actor, event, resolve)),
            "plan-import" => event.payload.plan() == fields.get("plan").map(String::as_str),
            "register-key" => match &event.payload {
                Payload::KeyRegistered(k) => {
                    fields.get("principal") == Some(&k.principal)
                        && fields.get("public_key") == Some(&hex(&k.key))
                        && fields.get("role").is_none_or(|r| *r == k.role.as_str())
                }
                _ => false,
            },
            "revoke-key" => match &event.payload {
                Payload::KeyRevoked(k) => {
                    fields.get("principal") == Some(&k.principal)
                        && fields.get("public_key") == Some(&hex(&k.key))
                        && fields.get("reason") == Some(&k.reason)
                }
                _ => false,
            },
            _ => false,
        };
    (!same).then(|| "the signed text does not match the event".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Month;

    #[test]
    fn canonical_text_round_trips_and_escapes() {
        let mut f = std::collections::BTreeMap::new();
        f.insert("reason".to_string(), "a\nb\\c=d".to_string());
        f.insert("amount".to_string(), "3.5".to_string());
        let t = canonical_text("housing", "correct", &f);
        assert_eq!(t, "planledger-submission/1\nactor=housing\ntype=correct\namount=3.5\nreason=a\\nb\\\\c=d\n");
        assert_eq!(parse_canonical(&t), Some(("housing".into(), "correct".into(), f)));
        assert_eq!(parse_canonical("something else\n"), None);
    }

    #[test]
    fn a_signature_binds_actor_and_content() {
        let pair = KeyPair::generate().unwrap();
        let mut sub = Submission {
            id: None,
            note: None,
            signature: None,
            command: Command::Investment {
                project: "park".into(),
                period: Month { year: 2022, month: 3 },
                amount: rust_decimal::Decimal::new(35, 1),
            },
        };
        sign(&pair, "housing", &mut sub);
        let sig = sub.signature.clone().unwrap();
        assert!(text_matches(&sig.signed, "housing", &sub));
        assert!(!text_matches(&sig.signed, "stats", &sub));
        // The same signature on other content does not match it.
        let mut other = sub.clone();
        other.command = Command::Investment {
            project: "park".into(),
            period: Month { year: 2022, month: 3 },
            amount: rust_decimal::Decimal::new(36, 1),
        };
        assert!(!text_matches(&sig.signed, "housing", &other));
        // A signer may write a decimal another way: "3.50" means 3.5.
        let signed = sig.signed.replace("amount=3.5", "amount=3.50");
        assert!(text_matches(&signed, "housing", &sub));
        assert!(verify_signature(&pair.public(), sig.signed.as_bytes(), &sig.bytes));
        assert!(!verify_signature(&pair.public(), signed.as_bytes(), &sig.bytes));
    }
}
