//! The ledger's ed25519 key, created with the store: it signs tree heads (`planledger
//! checkpoint`) so an auditor can later prove which log a checkpoint came from. The secret
//! stays in `<store>/ledger.key` (hex, mode 0600), outside the log.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

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
    key.verify(message, &sig).is_ok()
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
