//! One error type for the library. The CLI maps each variant to an exit code in one place
//! (`cli::exit_code`), so a variant is a category a user or script can act on.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that can never be accepted as given: malformed value, rule violated.
    #[error("{0}")]
    Invalid(String),
    /// Input checked whole and refused: every problem found, each naming where it is (the
    /// rows of a spreadsheet). Printed as `summary`, then one line per problem.
    #[error("{summary}{}", lines.iter().map(|l| format!("\n  {l}")).collect::<String>())]
    Problems { summary: String, lines: Vec<String> },
    /// A reference to something the ledger does not know.
    /// `hint` is empty or "; did you mean ...?" (`names::did_you_mean`).
    #[error("unknown {kind} '{id}'{hint}")]
    Unknown { kind: &'static str, id: String, hint: String },
    /// The acting department may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request collides with what is already recorded (idempotency key reused with other
    /// content, a stream moved past the expected version).
    #[error("{0}")]
    Conflict(String),
    /// Context for an inner error: a file and line, a plan-file entry.
    #[error("{location}: {source}")]
    At { location: String, source: Box<Error> },
    #[error("no store at {0} (import a plan first, or give --store)")]
    NoStore(PathBuf),
    #[error("store {0} is in use by another process")]
    StoreInUse(PathBuf),
    #[error("store {dir} was written by format version {found}; this planledger reads up to version {supported}")]
    FormatTooNew { dir: PathBuf, found: u32, supported: u32 },
    #[error("store {dir} was written by format version {found}, which this planledger no longer reads (it reads version {supported}); open it with the release that wrote it")]
    FormatTooOld { dir: PathBuf, found: u32, supported: u32 },
    /// Stored bytes that do not decode or do not chain: the log is damaged or was altered.
    #[error("corrupt store at seq {seq}: {what}")]
    Corrupt { seq: u64, what: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// The storage engine failed (sled, or another backend); `corrupt` when it found its
    /// own files damaged.
    #[error("{}", storage_message(message, *corrupt))]
    Storage { message: String, corrupt: bool },
    /// A check found the log, a snapshot or a proof not as claimed (exit 1).
    #[error("{0}")]
    Integrity(String),
    /// An error a server reported, with the exit code it maps to.
    #[error("{message}")]
    Remote { code: i32, message: String },
}

fn storage_message(message: &str, corrupt: bool) -> String {
    if corrupt {
        format!(
            "the store's index (sled) is damaged ({message}); the log segments hold every event: \
             `planledger repair` rebuilds the index from them"
        )
    } else {
        format!("the store's index (sled) failed: {message}")
    }
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub fn unknown(kind: &'static str, id: impl Into<String>) -> Self {
        Error::Unknown { kind, id: id.into(), hint: String::new() }
    }

    /// An unknown id, with the nearest of the `known` ids suggested.
    pub fn unknown_among<'k>(kind: &'static str, id: &str, known: impl IntoIterator<Item = &'k str>) -> Self {
        let hint = crate::names::did_you_mean(&crate::names::nearest(id, known));
        Error::Unknown { kind, id: id.to_string(), hint }
    }

    /// Wraps `self` with a location ("events.jsonl line 3"). Nested locations read outer-first.
    pub fn at(self, location: impl Into<String>) -> Self {
        Error::At { location: location.into(), source: Box::new(self) }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Puts a file name on an error: "FILE line N: ..." when the error names a line, else
    /// "FILE: ...".
    pub fn in_file(self, name: &str) -> Self {
        match self {
            Error::At { location, source } if location.starts_with("line ") => {
                Error::At { location: format!("{name} {location}"), source }
            }
            other => other.at(name),
        }
    }

    /// The innermost error, past every location wrapper: what kind of failure this is.
    pub fn root(&self) -> &Error {
        match self {
            Error::At { source, .. } => source.root(),
            other => other,
        }
    }
}

/// Adds a location to the error of a `Result`, lazily.
pub trait ResultExt<T> {
    fn at_with(self, location: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn at_with(self, location: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.at(location()))
    }
}
