//! The ledger's ed25519 key, created with the store: it signs tree heads (`planledger
//! checkpoint`) so an auditor can later prove which log a checkpoint came from. The secret
//! stays in `<store>/ledger.key` (hex, mode 0600), outside the log.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::Digest;

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::store::Files;

pub const KEY_FILE: &str = "ledger.key";
/// The ledger's public key alone, in a store read back from an exported log or a bundle:
/// such a store can be read and verified, but cannot sign, so it is never given a new key.
pub const PUBLIC_FILE: &str = "ledger.pub";

pub struct LedgerKey {
    signing: SigningKey,
}

/// `field` names the value in the error: a field key ("public_key"), or a message.
fn unhex(field: impl Into<crate::Msg>, text: &str) -> Result<Vec<u8>> {
    let field: crate::Msg = field.into();
    let t = text.trim();
    if !t.len().is_multiple_of(2) || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(msg!("keys.not_hex", field = field)));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&t[i..i + 2], 16)
                .map_err(|_| Error::invalid(msg!("keys.not_hex", field = field.clone())))
        })
        .collect()
}

pub fn unhex32(field: impl Into<crate::Msg>, text: &str) -> Result<[u8; 32]> {
    let field: crate::Msg = field.into();
    let v = unhex(field.clone(), text)?;
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| Error::invalid(msg!("keys.not_32_bytes", field = field)))
}

impl LedgerKey {
    /// Loads the store's key; a store without one (made before keys existed) gets one now.
    pub fn load_or_create<F: Files + ?Sized>(files: &F) -> Result<LedgerKey> {
        if let Some(key) = read_key(files)? {
            return Ok(key);
        }
        if files.read_file(PUBLIC_FILE)?.is_some() {
            return Err(Error::invalid(msg!("keys.public_only", dir = files.shown())));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::io(msg!("keys.generating_ledger_key"), std::io::Error::other(e.to_string())))?;
        if files.create_file(KEY_FILE, hex(&seed).as_bytes(), true)? {
            return Ok(LedgerKey { signing: SigningKey::from_bytes(&seed) });
        }
        // Another process (a second server on the same database) made one first: theirs.
        read_key(files)?.ok_or_else(|| Error::invalid(msg!("keys.no_ledger_key", dir = files.shown(), file = KEY_FILE)))
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// Most decompressed public keys a thread keeps (`verifying_key`): a server's verifying
/// threads see the same few hundred principals' keys again and again.
pub const KEY_CACHE_MAX: usize = 1_024;

thread_local! {
    static KEY_CACHE: std::cell::RefCell<std::collections::HashMap<[u8; 32], VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// `public` as a point on the curve (its decompression, a square root, done once per key and
/// thread); `None` if it is not one.
fn verifying_key(public: &[u8; 32]) -> Option<VerifyingKey> {
    KEY_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(key) = cache.get(public) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(public).ok()?;
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(*public, key);
        Some(key)
    })
}

/// Checks an ed25519 signature by `public` over `message`.
pub fn verify_signature(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Some(key) = verifying_key(public) else { return false };
    let Ok(sig) = Signature::from_slice(signature) else { return false };
    // Strict: rejects weak keys and non-canonical signatures (no malleability).
    key.verify_strict(message, &sig).is_ok()
}

/// The store's signing key, if it has one.
fn read_key<F: Files + ?Sized>(files: &F) -> Result<Option<LedgerKey>> {
    let Some(bytes) = files.read_file(KEY_FILE)? else { return Ok(None) };
    let at = || format!("{}/{KEY_FILE}", files.shown());
    let text = String::from_utf8(bytes).map_err(|_| Error::invalid(msg!("cli.not_utf8")).at(at()))?;
    let seed = unhex32("ledger.key", &text).map_err(|e| e.at(at()))?;
    Ok(Some(LedgerKey { signing: SigningKey::from_bytes(&seed) }))
}

/// The ledger's public key: from its signing key, or, in a store that holds only the public
/// key (read back from an exported log or a bundle), from that. `None` if it has neither.
pub fn public_of<F: Files + ?Sized>(files: &F) -> Result<Option<[u8; 32]>> {
    if let Some(key) = read_key(files)? {
        return Ok(Some(key.public()));
    }
    match files.read_file(PUBLIC_FILE)? {
        Some(bytes) => {
            let at = || format!("{}/{PUBLIC_FILE}", files.shown());
            let text = String::from_utf8(bytes).map_err(|_| Error::invalid(msg!("cli.not_utf8")).at(at()))?;
            unhex32("ledger.pub", text.trim()).map(Some).map_err(|e| e.at(at()))
        }
        None => Ok(None),
    }
}

/// Writes the ledger's public key alone into a store being read back (`PUBLIC_FILE`).
pub fn save_public<F: Files + ?Sized>(files: &F, public: &[u8; 32]) -> Result<()> {
    if files.create_file(PUBLIC_FILE, hex(public).as_bytes(), false)? {
        Ok(())
    } else {
        let path = format!("{}/{PUBLIC_FILE}", files.shown());
        Err(Error::io(msg!("io.writing", path = path), std::io::ErrorKind::AlreadyExists.into()))
    }
}

/// The store's key, which must exist: checking a signature must never make a new key.
pub fn load<F: Files + ?Sized>(files: &F) -> Result<LedgerKey> {
    match read_key(files)? {
        Some(key) => Ok(key),
        None if files.read_file(PUBLIC_FILE)?.is_some() => {
            Err(Error::invalid(msg!("keys.public_only", dir = files.shown())))
        }
        None => Err(Error::invalid(msg!("keys.no_ledger_key", dir = files.shown(), file = KEY_FILE))),
    }
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
        getrandom::fill(&mut seed)
            .map_err(|e| Error::io(msg!("keys.generating_key"), std::io::Error::other(e.to_string())))?;
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
        let mut file = f.open(path).map_err(|e| Error::io(msg!("io.creating", path = path.display()), e))?;
        file.write_all(self.to_json().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(msg!("io.writing", path = path.display()), e))
    }

    pub fn read(path: &Path) -> Result<KeyPair> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(msg!("io.cannot_read", path = path.display()), e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|_| Error::invalid(msg!("keys.not_key_file")).at(path.display().to_string()))?;
        let secret = v["secret_key"]
            .as_str()
            .ok_or_else(|| Error::invalid(msg!("keys.no_secret_key")).at(path.display().to_string()))?;
        let seed = unhex32("secret_key", secret).map_err(|e| e.at(path.display().to_string()))?;
        Ok(KeyPair { signing: SigningKey::from_bytes(&seed) })
    }
}

/// Reads a public key from a key file (`public_key`) or a file holding just the hex.
pub fn read_public(path: &Path) -> Result<[u8; 32]> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(msg!("io.cannot_read", path = path.display()), e))?;
    let hex_text = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => v["public_key"].as_str().unwrap_or_default().to_string(),
        Err(_) => text.trim().to_string(),
    };
    let key = unhex32("public_key", &hex_text).map_err(|e| e.at(path.display().to_string()))?;
    if VerifyingKey::from_bytes(&key).map_or(true, |k| k.is_weak()) {
        return Err(Error::invalid(msg!("keys.not_ed25519")).at(path.display().to_string()));
    }
    Ok(key)
}

/// First line of a submission's canonical text, version 1 (events recorded before signed
/// texts named their ledger and id; they verify under the rule they were signed under).
pub const SUBMISSION_FORMAT_V1: &str = "planledger-submission/1";
/// First line of a submission's canonical text today: it names the ledger and carries the
/// event id, so a signature is good for one event in one ledger.
pub const SUBMISSION_FORMAT: &str = "planledger-submission/2";

/// Appends `v` to `out` with `\` and line breaks escaped, copying runs that need no escape
/// whole.
fn push_escaped(out: &mut String, v: &str) {
    let mut rest = v;
    while let Some(at) = rest.find(['\\', '\n', '\r']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\n' => "\\n",
            b'\r' => "\\r",
            _ => "\\\\",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// The text a principal signs for a submission (docs/server.md): a format line, the
/// ledger's public key (hex), the actor, the type, then every field as `key=value` (the
/// event id among them), sorted by key, one per line, with `\` and line breaks escaped.
/// Any language can build it from the JSONL form of a submission.
pub fn canonical_text(
    ledger: &[u8; 32],
    actor: &str,
    kind: &str,
    fields: &std::collections::BTreeMap<String, String>,
) -> String {
    let size = fields.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>();
    let mut out = String::with_capacity(SUBMISSION_FORMAT.len() + 96 + actor.len() + kind.len() + size);
    out.push_str(SUBMISSION_FORMAT);
    out.push_str("\nledger=");
    out.push_str(&hex(ledger));
    out.push_str("\nactor=");
    push_escaped(&mut out, actor);
    out.push_str("\ntype=");
    push_escaped(&mut out, kind);
    out.push('\n');
    for (k, v) in fields {
        push_escaped(&mut out, k);
        out.push('=');
        push_escaped(&mut out, v);
        out.push('\n');
    }
    out
}

/// A signed text, parsed: which format, the ledger it names (format 2), the actor, the type
/// and the fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedText {
    pub version: u8,
    pub ledger: Option<[u8; 32]>,
    pub actor: String,
    pub kind: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

/// Parses a canonical text (either format) back into its parts; `None` if it is not one.
pub fn parse_canonical(text: &str) -> Option<SignedText> {
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
    let (version, ledger) = match lines.next()? {
        SUBMISSION_FORMAT_V1 => (1, None),
        SUBMISSION_FORMAT => (2, Some(unhex32("ledger", lines.next()?.strip_prefix("ledger=")?).ok()?)),
        _ => return None,
    };
    let actor = unesc(lines.next()?.strip_prefix("actor=")?);
    let kind = unesc(lines.next()?.strip_prefix("type=")?);
    let mut fields = std::collections::BTreeMap::new();
    for l in lines {
        let (k, v) = l.split_once('=')?;
        fields.insert(unesc(k), unesc(v));
    }
    Some(SignedText { version, ledger, actor, kind, fields })
}

use crate::decide::{Command, EventRef, Submission, TargetSpec};
use crate::event::{Event, Payload};
use crate::model::{fmt_decimal, Role};
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
        Command::Withdraw { project, plan, date, reason } => {
            put("project", project.clone());
            if let Some(p) = plan {
                put("plan", p.clone());
            }
            put("date", date.to_string());
            put("reason", reason.clone());
            "withdraw"
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

/// Signs `sub` as `actor` with `pair`, for the ledger whose public key is `ledger`. A
/// submission without an id gets one now (UUID v7): the id is part of what is signed, so a
/// copy of the signature is good for this one event and nothing else.
pub fn sign(pair: &KeyPair, ledger: &[u8; 32], actor: &str, sub: &mut Submission) {
    if sub.id.is_none() {
        sub.id = Some(uuid::Uuid::now_v7());
    }
    let (kind, fields) = command_form(sub);
    let signed = canonical_text(ledger, actor, &kind, &fields);
    let bytes = pair.sign(signed.as_bytes()).to_vec();
    sub.signature = Some(Box::new(crate::event::Signature { key: pair.public().to_vec(), bytes, signed }));
}

/// Fewest signatures a batch must hold to be signed or verified on every core at once: a
/// thread costs about what one signature does, so smaller batches stay on the caller's.
pub const PARALLEL_SIGNATURES_MIN: usize = 256;

/// The threads `n` signatures are spread over.
fn threads_for(n: usize) -> usize {
    if n < PARALLEL_SIGNATURES_MIN {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |c| c.get()).min(n.div_ceil(PARALLEL_SIGNATURES_MIN / 2))
}

/// Runs `f` on each part of `items` cut for `threads_for` (with the index of the part's
/// first item), one thread a part, the last on the calling thread; the parts' results, in
/// order. An error if a thread could not be started (the parts started are finished first).
fn in_parts<T: Send, R: Send>(items: &mut [T], f: impl Fn(usize, &mut [T]) -> R + Sync) -> Result<Vec<R>> {
    let threads = threads_for(items.len());
    if threads <= 1 {
        return Ok(vec![f(0, items)]);
    }
    let size = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let mut parts = items.chunks_mut(size).enumerate().collect::<Vec<_>>();
        let (last, last_part) = parts.pop().unwrap_or((0, &mut []));
        let mut started = Vec::new();
        for (k, part) in parts {
            let handle = std::thread::Builder::new()
                .name("signatures".into())
                .spawn_scoped(scope, move || f(k * size, part))
                .map_err(|e| Error::io(msg!("keys.signing_threads"), e));
            started.push(handle);
        }
        let mine = f(last * size, last_part);
        let mut results = Vec::with_capacity(started.len() + 1);
        for handle in started {
            results.push(handle?.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results.push(mine);
        Ok(results)
    })
}

/// Signs every submission of `subs` as `sign` does, on every core for a large batch.
pub fn sign_all(pair: &KeyPair, ledger: &[u8; 32], actor: &str, subs: &mut [Submission]) -> Result<()> {
    in_parts(subs, |_, part| {
        for sub in part {
            sign(pair, ledger, actor, sub);
        }
    })
    .map(drop)
}

/// Checks a submission's signature when it is made: it verifies, its key is registered to the
/// actor and not revoked, and its text is, byte for byte, the canonical text of what the
/// submission asks (format 2, this ledger, the submission's own id). Anything else is refused
/// before it is staged: a text that merely means the same, a copy for another ledger, a
/// signature lifted from the log onto a new id.
pub fn check_submission(state: &State, ledger: &[u8; 32], actor: &str, sub: &Submission) -> Result<()> {
    let Some(sig) = &sub.signature else { return Ok(()) };
    verified_key(sig)?;
    if state.active_key(actor, &sig.key).is_none() {
        return Err(Error::forbidden(msg!("keys.key_not_registered", key = &hex(&sig.key)[..16], actor = actor)));
    }
    check_text_signed(ledger, actor, sub, sig)
}

/// A request whose signatures were verified before the ledger was locked
/// (`verify_request`): every signed submission's signature verifies under its key, and its
/// text is, byte for byte, the canonical text of that submission for this ledger, this actor
/// and the submission's own id. What needs the state is left to staging
/// (`check_verified_key`): that the key is registered to the actor, not revoked, and of a
/// role that writes. Only `verify_request` makes one, and nothing in it can be changed
/// afterwards, so the verified keys always belong to these submissions.
#[derive(Debug)]
pub struct Verified {
    ledger: [u8; 32],
    actor: String,
    submissions: Vec<Submission>,
    /// The key each submission's signature verified under; `None` for an unsigned one.
    keys: Vec<Option<[u8; 32]>>,
}

impl Verified {
    /// The ledger the signed texts name.
    pub fn ledger(&self) -> &[u8; 32] {
        &self.ledger
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn submissions(&self) -> &[Submission] {
        &self.submissions
    }

    /// The key submission `i`'s signature verified under (`None`: unsigned).
    pub fn key(&self, i: usize) -> Option<&[u8; 32]> {
        self.keys.get(i).and_then(Option::as_ref)
    }
}

/// What `check_submission` checks that needs no state: the key and signature lengths, the
/// signature, the id, and the text, byte for byte; returns the key it verified under.
fn verify_signed(ledger: &[u8; 32], actor: &str, sub: &Submission) -> Result<Option<[u8; 32]>> {
    let Some(sig) = &sub.signature else { return Ok(None) };
    let key = verified_key(sig)?;
    check_text_signed(ledger, actor, sub, sig)?;
    Ok(Some(key))
}

/// The key of a signature that verifies over its text.
fn verified_key(sig: &crate::event::Signature) -> Result<[u8; 32]> {
    let Ok(key) = <[u8; 32]>::try_from(sig.key.as_slice()) else {
        return Err(Error::invalid(msg!("keys.signature_key_length", bytes = sig.key.len())));
    };
    if sig.bytes.len() != 64 {
        return Err(Error::invalid(msg!("keys.signature_length", bytes = sig.bytes.len())));
    }
    if !verify_signature(&key, sig.signed.as_bytes(), &sig.bytes) {
        return Err(Error::forbidden(msg!("keys.signature_does_not_verify")));
    }
    Ok(key)
}

/// The signed text is, byte for byte, the canonical text of `sub` by `actor` in `ledger`.
fn check_text_signed(ledger: &[u8; 32], actor: &str, sub: &Submission, sig: &crate::event::Signature) -> Result<()> {
    if sub.id.is_none() {
        return Err(Error::invalid(msg!("keys.signed_needs_id")));
    }
    let (kind, fields) = command_form(sub);
    if sig.signed != canonical_text(ledger, actor, &kind, &fields) {
        let why = match parse_canonical(&sig.signed) {
            Some(t) if t.version != 2 => msg!("keys.signed_text_format", version = t.version),
            Some(t) if t.ledger != Some(*ledger) => msg!("keys.signed_text_other_ledger"),
            Some(t) if t.fields.get("id") != fields.get("id") => msg!("keys.signed_text_other_id"),
            Some(_) => msg!("keys.signed_text_not_canonical"),
            None => msg!("keys.signed_text_not_submission"),
        };
        return Err(Error::forbidden(msg!("keys.signed_text_refused", why = why)));
    }
    Ok(())
}

/// Verifies a request's signatures without the state (so without the ledger's lock, in
/// parallel with other requests): each submission as `check_submission` does, but for the
/// key's registration, which `check_verified_key` checks when the request is staged. A
/// refusal names the submission's origin, as staging does.
pub fn verify_request(
    ledger: &[u8; 32],
    actor: &str,
    submissions: Vec<Submission>,
    origin: &dyn Fn(usize) -> Option<crate::Msg>,
) -> Result<Verified> {
    let mut submissions = submissions;
    // Each part's keys, or its first refusal with the index it is at: the first refusal of
    // the first part that has one is the one a single pass would have met first.
    let parts = in_parts(&mut submissions, |first, part| {
        part.iter()
            .enumerate()
            .map(|(j, sub)| verify_signed(ledger, actor, sub).map_err(|e| (first + j, e)))
            .collect::<std::result::Result<Vec<_>, _>>()
    })?;
    let mut keys = Vec::with_capacity(submissions.len());
    for part in parts {
        match part {
            Ok(k) => keys.extend(k),
            Err((i, e)) => {
                return Err(match origin(i) {
                    Some(at) => e.at(at),
                    None => e,
                })
            }
        }
    }
    Ok(Verified { ledger: *ledger, actor: actor.to_string(), submissions, keys })
}

/// At staging, for a submission verified by `verify_request`: the key it verified under is,
/// in `state` (which holds every event before this one, revocations staged just before it
/// included), registered to `actor` and not revoked, and the actor's role writes. Compared
/// as bytes and a typed role.
pub fn check_verified_key(state: &State, actor: &str, key: Option<&[u8; 32]>) -> Result<()> {
    let Some(key) = key else { return Ok(()) };
    let principal = state.principals.get(actor).filter(|p| p.keys.iter().any(|k| k.key == key && k.revoked.is_none()));
    let Some(principal) = principal else {
        return Err(Error::forbidden(msg!("keys.key_not_registered", key = &hex(key)[..16], actor = actor)));
    };
    match principal.role {
        Role::Coordinator | Role::Department => Ok(()),
        Role::Auditor => Err(Error::forbidden(msg!("keys.role_does_not_write", actor = actor))),
    }
}

/// Checks a stored event's signature (at `verify`): it verifies, its key was registered to the
/// actor and not revoked in `state` (the state just before the event), and its text says
/// what the event records; a format-2 text must also name this ledger and the event's id.
/// `None` if it holds, else what is wrong.
pub fn check_event(
    state: &State,
    ledger: &[u8; 32],
    event: &Event,
    resolve: &dyn Fn(&EventRef) -> Option<u64>,
) -> Option<crate::Msg> {
    let sig = event.signature.as_ref()?;
    let key = <[u8; 32]>::try_from(sig.key.as_slice()).unwrap_or([0; 32]);
    if !verify_signature(&key, sig.signed.as_bytes(), &sig.bytes) {
        return Some(msg!("keys.event_signature_bad"));
    }
    if state.active_key(&event.actor, &sig.key).is_none() {
        return Some(msg!("keys.event_key_not_registered", key = &hex(&sig.key)[..16], actor = &event.actor));
    }
    let Some(t) = parse_canonical(&sig.signed) else {
        return Some(msg!("keys.event_text_not_submission"));
    };
    if t.version == 2 {
        if t.ledger != Some(*ledger) {
            return Some(msg!("keys.event_other_ledger"));
        }
        if t.fields.get("id") != Some(&event.id.to_string()) {
            return Some(msg!("keys.event_other_id"));
        }
    }
    let fields = &t.fields;
    let same = t.actor == event.actor
        && fields.get("id").is_none_or(|id| *id == event.id.to_string())
        && match t.kind.as_str() {
            k if crate::input::KINDS.contains(&k) => crate::input::submission_from_fields(k, fields)
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
    (!same).then(|| msg!("keys.event_text_mismatch"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Month;

    const LEDGER: [u8; 32] = [9; 32];

    /// A batch large enough to be signed and verified on every core: the same keys as one
    /// pass, and of two bad submissions in different parts, the first is the one named.
    #[test]
    fn a_large_batch_verifies_in_parts_and_names_its_first_refusal() {
        let pair = KeyPair::generate().unwrap();
        let n = PARALLEL_SIGNATURES_MIN * 3;
        let mut subs: Vec<Submission> =
            (0..n).map(|k| crate::workload::correction(k as u64 + 1, k as i64 + 1, "r")).collect();
        sign_all(&pair, &LEDGER, "drc", &mut subs).unwrap();
        let origin = |i: usize| Some(crate::Msg::from(format!("line {}", i + 1)));
        let verified = verify_request(&LEDGER, "drc", subs.clone(), &origin).unwrap();
        assert_eq!(verified.keys, vec![Some(pair.public()); n]);
        for (k, sub) in subs.iter().enumerate() {
            let sig = sub.signature.as_ref().unwrap();
            assert!(verify_signature(&pair.public(), sig.signed.as_bytes(), &sig.bytes), "submission {k}");
        }
        // Bad at 100 (its text altered) and at 700 (its signature altered).
        let mut bad = subs.clone();
        bad[700].signature.as_mut().unwrap().bytes[0] ^= 1;
        bad[100].signature.as_mut().unwrap().signed.push(' ');
        let e = verify_request(&LEDGER, "drc", bad.clone(), &origin).unwrap_err();
        assert!(e.to_string().contains("line 101"), "{e}");
        bad[100] = subs[100].clone();
        let e = verify_request(&LEDGER, "drc", bad, &origin).unwrap_err();
        assert!(e.to_string().contains("line 701"), "{e}");
    }

    #[test]
    fn canonical_text_round_trips_and_escapes() {
        let mut f = std::collections::BTreeMap::new();
        f.insert("reason".to_string(), "a\nb\\c=d".to_string());
        f.insert("amount".to_string(), "3.5".to_string());
        let t = canonical_text(&LEDGER, "housing", "correct", &f);
        let ledger = hex(&LEDGER);
        assert_eq!(
            t,
            format!("planledger-submission/2\nledger={ledger}\nactor=housing\ntype=correct\namount=3.5\nreason=a\\nb\\\\c=d\n")
        );
        let parsed = parse_canonical(&t).unwrap();
        assert_eq!((parsed.version, parsed.ledger, parsed.actor.as_str()), (2, Some(LEDGER), "housing"));
        assert_eq!((parsed.kind.as_str(), parsed.fields), ("correct", f));
        assert_eq!(parse_canonical("something else\n"), None);
    }

    #[test]
    fn only_the_canonical_text_of_this_submission_in_this_ledger_is_accepted() {
        let pair = KeyPair::generate().unwrap();
        let mut state = State::default();
        state.principals.insert(
            "housing".into(),
            crate::projection::Principal {
                role: crate::model::Role::Department,
                version: 1,
                keys: vec![crate::projection::KeyEntry { key: pair.public().to_vec(), registered: 1, revoked: None }],
            },
        );
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
        sign(&pair, &LEDGER, "housing", &mut sub);
        assert!(sub.id.is_some(), "signing gives the submission its id");
        check_submission(&state, &LEDGER, "housing", &sub).unwrap();
        // Another actor, another ledger.
        assert!(check_submission(&state, &LEDGER, "stats", &sub).is_err());
        assert!(check_submission(&state, &[8; 32], "housing", &sub)
            .unwrap_err()
            .to_string()
            .contains("another ledger"));
        // The same signature lifted onto another id.
        let mut lifted = sub.clone();
        lifted.id = Some(uuid::Uuid::now_v7());
        assert!(check_submission(&state, &LEDGER, "housing", &lifted)
            .unwrap_err()
            .to_string()
            .contains("another event id"));
        // Other content under the same signature.
        let mut other = sub.clone();
        other.command = Command::Investment {
            project: "park".into(),
            period: Month { year: 2022, month: 3 },
            amount: rust_decimal::Decimal::new(36, 1),
        };
        assert!(check_submission(&state, &LEDGER, "housing", &other).is_err());
        // A text that means the same but is not canonical ("3.50", padding) is refused, even
        // when the signer signed it.
        let sig = sub.signature.clone().unwrap();
        for text in [sig.signed.replace("amount=3.5", "amount=3.50"), sig.signed.replace("amount=3.5", "amount=3.5   ")]
        {
            let mut padded = sub.clone();
            padded.signature = Some(Box::new(crate::event::Signature {
                key: sig.key.clone(),
                bytes: pair.sign(text.as_bytes()).to_vec(),
                signed: text,
            }));
            assert!(check_submission(&state, &LEDGER, "housing", &padded).is_err());
        }
    }

    /// A request verified before the lock: verification refuses what needs no state (a bad
    /// signature, another ledger, actor or id); staging then checks the verified key on the
    /// state as it is then, so a key revoked since is refused, as is an auditor's.
    #[test]
    fn a_request_verified_before_the_lock_is_checked_on_the_state_when_staged() {
        let pair = KeyPair::generate().unwrap();
        let principal = |role, revoked| crate::projection::Principal {
            role,
            version: 1,
            keys: vec![crate::projection::KeyEntry { key: pair.public().to_vec(), registered: 1, revoked }],
        };
        let mut state = State::default();
        state.principals.insert("housing".into(), principal(Role::Department, None));
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
        sign(&pair, &LEDGER, "housing", &mut sub);
        let verified = verify_request(&LEDGER, "housing", vec![sub.clone()], &|_| None).unwrap();
        assert_eq!((verified.actor(), verified.ledger(), verified.key(0)), ("housing", &LEDGER, Some(&pair.public())));
        check_verified_key(&state, "housing", verified.key(0)).unwrap();
        // Revoked after the verification: refused when staged.
        state.principals.insert("housing".into(), principal(Role::Department, Some(2)));
        let e = check_verified_key(&state, "housing", verified.key(0)).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)) && e.to_string().contains("or was revoked"), "{e}");
        // Another principal's key, and an auditor's.
        state.principals.insert("housing".into(), principal(Role::Department, None));
        assert!(check_verified_key(&state, "stats", verified.key(0)).is_err());
        state.principals.insert("audit-office".into(), principal(Role::Auditor, None));
        let e = check_verified_key(&state, "audit-office", verified.key(0)).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)) && e.to_string().contains("auditor"), "{e}");
        // Refused by the verification itself, with no state at all.
        let refused = |ledger: &[u8; 32], actor: &str, sub: Submission| {
            verify_request(ledger, actor, vec![sub], &|_| Some(crate::Msg::from("line 7".to_string())))
                .unwrap_err()
                .to_string()
        };
        assert!(refused(&[8; 32], "housing", sub.clone()).contains("another ledger"));
        assert!(refused(&LEDGER, "stats", sub.clone()).contains("not the canonical text"));
        let mut lifted = sub.clone();
        lifted.id = Some(uuid::Uuid::now_v7());
        assert!(refused(&LEDGER, "housing", lifted).contains("another event id"));
        let mut forged = sub.clone();
        if let Some(sig) = forged.signature.as_mut() {
            sig.bytes[0] ^= 1;
        }
        let e = refused(&LEDGER, "housing", forged);
        assert!(e.contains("does not verify") && e.contains("line 7"), "{e}");
    }
}
