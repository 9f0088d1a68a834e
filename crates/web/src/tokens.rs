//! Web tokens: who may open the web view, in which role, until when. Kept in
//! `<store>/web-tokens.json`, each token stored as its SHA-256 only (the token itself is
//! printed once, when issued); revoked tokens stay listed, marked, so the file is also the
//! record of who was given access.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use planledger::codec::hex;
use planledger::error::{Error, Result};
use planledger::model::{Date, Role, Timestamp};
use planledger::msg;

pub const TOKENS_FILE: &str = "web-tokens.json";
/// Random bytes in a token (printed as hex).
pub const TOKEN_BYTES: usize = 32;
/// Most tokens a store keeps (issued and revoked).
pub const TOKENS_MAX: usize = 10_000;

/// One issued token, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// A short public name of the token (the first 8 hex of its hash), for revoking it.
    pub id: String,
    pub principal: String,
    pub role: Role,
    /// The last day it is valid, in the ledger's time zone.
    pub expires: Date,
    pub sha256: String,
    pub issued_at: String,
    #[serde(default)]
    pub revoked: bool,
}

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

pub fn load(dir: &Path) -> Result<Vec<Grant>> {
    let path = dir.join(TOKENS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::invalid(msg!("web.tokens_file_bad", error = e)).at(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(msg!("io.cannot_read", path = path.display()), e)),
    }
}

/// Writes the grants whole: a temporary file, synced, renamed, the directory synced.
fn save(dir: &Path, grants: &[Grant]) -> Result<()> {
    let path = dir.join(TOKENS_FILE);
    let tmp = dir.join(format!("{TOKENS_FILE}.partial"));
    let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
    let text = serde_json::to_string_pretty(grants).map_err(|e| io(std::io::Error::other(e)))?;
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// Issues a token for `principal` in `role` until `expires`; returns the token (shown once)
/// and its grant.
pub fn issue(dir: &Path, principal: &str, role: Role, expires: Date, now: Timestamp) -> Result<(String, Grant)> {
    if !dir.join("db").exists() {
        return Err(Error::NoStore(dir.to_path_buf()));
    }
    let mut grants = load(dir)?;
    if grants.len() >= TOKENS_MAX {
        return Err(Error::invalid(msg!("web.tokens_full", max = TOKENS_MAX)));
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::io(msg!("web.random"), std::io::Error::other(e.to_string())))?;
    let token = hex(&bytes);
    let sha256 = digest(&token);
    let grant = Grant {
        id: sha256[..8].to_string(),
        principal: principal.to_string(),
        role,
        expires,
        sha256,
        issued_at: now.to_string(),
        revoked: false,
    };
    grants.push(grant.clone());
    save(dir, &grants)?;
    Ok((token, grant))
}

/// Revokes the token named `id` (its public id); an unknown id is an error.
pub fn revoke(dir: &Path, id: &str) -> Result<Grant> {
    let mut grants = load(dir)?;
    let known: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
    let g = grants
        .iter_mut()
        .find(|g| g.id == id)
        .ok_or_else(|| Error::unknown_among(planledger::error::Kind::Key, id, known.iter().map(String::as_str)))?;
    g.revoked = true;
    let g = g.clone();
    save(dir, &grants)?;
    Ok(g)
}

/// The grant a presented token stands for, if it is known, not revoked and not expired on
/// `today`. Tokens are compared by their hashes.
pub fn check(grants: &[Grant], token: &str, today: Date) -> Option<Grant> {
    let d = digest(token);
    grants.iter().find(|g| g.sha256 == d && !g.revoked && today <= g.expires).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_as_its_hash_and_stops_when_revoked_or_expired() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let exp = Date::parse("d", "2026-12-31").unwrap();
        let (token, g) = issue(&dir, "audit", Role::Auditor, exp, Timestamp(0)).unwrap();
        let text = std::fs::read_to_string(dir.join(TOKENS_FILE)).unwrap();
        assert!(!text.contains(&token), "the token itself is not stored");
        let grants = load(&dir).unwrap();
        assert_eq!(
            check(&grants, &token, Date::parse("d", "2026-12-31").unwrap()).map(|g| g.role),
            Some(Role::Auditor)
        );
        assert!(check(&grants, &token, Date::parse("d", "2027-01-01").unwrap()).is_none(), "expired");
        assert!(check(&grants, "0000", exp).is_none());
        revoke(&dir, &g.id).unwrap();
        assert!(check(&load(&dir).unwrap(), &token, exp).is_none(), "revoked");
        assert!(revoke(&dir, "nope").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        std::env::temp_dir().join(format!("planledger-web-{}", hex(&b)))
    }
}
