//! One error type for the library. The CLI maps each variant to an exit code in one place
//! (`cli::exit_code`), so a variant is a category a user or script can act on.

use std::path::PathBuf;

use crate::msg::{Lang, Msg};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every message a variant carries is a `Msg` (the catalogue, `msg`): `Display` is English,
/// `render(lang)` is what a person reads.
#[derive(Debug)]
pub enum Error {
    /// Input that can never be accepted as given: malformed value, rule violated.
    Invalid(Msg),
    /// Input checked whole and refused: every problem found, each naming where it is (the
    /// rows of a spreadsheet). Printed as `summary`, then one line per problem.
    Problems {
        summary: Msg,
        lines: Vec<Msg>,
    },
    /// A reference to something the ledger does not know; `nearest` are the known ids it
    /// may have meant (`names::nearest`).
    Unknown {
        kind: Kind,
        id: String,
        nearest: Vec<String>,
    },
    /// The acting department may not do this.
    Forbidden(Msg),
    /// The request collides with what is already recorded (idempotency key reused with other
    /// content, a stream moved past the expected version).
    Conflict(Msg),
    /// Context for an inner error: a file and line, a plan-file entry.
    At {
        location: Msg,
        source: Box<Error>,
    },
    NoStore(PathBuf),
    StoreInUse(PathBuf),
    FormatTooNew {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    FormatTooOld {
        dir: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Stored bytes that do not decode or do not chain: the log is damaged or was altered.
    Corrupt {
        seq: u64,
        what: Msg,
    },
    Io {
        context: Msg,
        source: std::io::Error,
    },
    /// The storage engine failed (sled, or another backend); `corrupt` when it found its
    /// own files damaged. `message` is the engine's own words.
    Storage {
        message: String,
        corrupt: bool,
    },
    /// A check found the log, a snapshot or a proof not as claimed (exit 1).
    Integrity(Msg),
    /// Another writer appended to a shared store (PostgreSQL) after this one last read its
    /// head: nothing was written, and deciding again on the state it holds now succeeds.
    Behind {
        expected: u64,
        head: u64,
    },
    /// The database behind a shared store failed; `lost`: the connection went (a restart or
    /// a failover), so whether a commit in flight landed is known only by reading again.
    Database {
        message: String,
        lost: bool,
    },
    /// An error a server reported, with the exit code it maps to, in the words it sent.
    Remote {
        code: i32,
        message: String,
    },
}

/// What an unknown id was meant to name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Plan,
    Project,
    Indicator,
    Department,
    Event,
    Key,
}

impl Kind {
    fn msg(self) -> Msg {
        match self {
            Kind::Plan => msg!("kind.plan"),
            Kind::Project => msg!("kind.project"),
            Kind::Indicator => msg!("kind.indicator"),
            Kind::Department => msg!("kind.department"),
            Kind::Event => msg!("kind.event"),
            Kind::Key => msg!("kind.key"),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::At { source, .. } => Some(source.as_ref()),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    pub fn invalid(m: impl Into<Msg>) -> Self {
        Error::Invalid(m.into())
    }

    pub fn forbidden(m: impl Into<Msg>) -> Self {
        Error::Forbidden(m.into())
    }

    pub fn conflict(m: impl Into<Msg>) -> Self {
        Error::Conflict(m.into())
    }

    pub fn integrity(m: impl Into<Msg>) -> Self {
        Error::Integrity(m.into())
    }

    pub fn corrupt(seq: u64, what: impl Into<Msg>) -> Self {
        Error::Corrupt { seq, what: what.into() }
    }

    pub fn unknown(kind: Kind, id: impl Into<String>) -> Self {
        Error::Unknown { kind, id: id.into(), nearest: Vec::new() }
    }

    /// An unknown id, with the nearest of the `known` ids suggested.
    pub fn unknown_among<'k>(kind: Kind, id: &str, known: impl IntoIterator<Item = &'k str>) -> Self {
        Error::Unknown { kind, id: id.to_string(), nearest: crate::names::nearest(id, known) }
    }

    /// Wraps `self` with a location ("events.jsonl line 3"). Nested locations read outer-first.
    pub fn at(self, location: impl Into<Msg>) -> Self {
        Error::At { location: location.into(), source: Box::new(self) }
    }

    /// Wraps `self` with "line N" of the file being read.
    pub fn at_line(self, line: usize) -> Self {
        self.at(msg!("at.line", line = line))
    }

    pub fn io(context: impl Into<Msg>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// Puts a file name on an error: "FILE line N: ..." when the error names a line, else
    /// "FILE: ...".
    pub fn in_file(self, name: &str) -> Self {
        match self {
            Error::At { location: Msg::Key { key: "at.line", args }, source } => {
                let mut args = args;
                args.push(("file", Msg::text(name)));
                Error::At { location: Msg::key("at.file_line", args), source }
            }
            other => other.at(name),
        }
    }

    /// The error as a person reads it, in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        self.to_msg().render(lang)
    }

    /// The error as a message: what `render` renders, and what a list of problems keeps.
    pub fn to_msg(&self) -> Msg {
        match self {
            Error::Invalid(m) | Error::Forbidden(m) | Error::Conflict(m) | Error::Integrity(m) => m.clone(),
            Error::Problems { summary, lines } => {
                let mut all = vec![summary.clone()];
                all.extend(lines.iter().cloned());
                Msg::Lines(all)
            }
            Error::Unknown { kind, id, nearest } if nearest.is_empty() => {
                msg!("error.unknown", kind = kind.msg(), id = id)
            }
            Error::Unknown { kind, id, nearest } => {
                msg!("error.unknown_near", kind = kind.msg(), id = id, nearest = Msg::Choices(nearest.clone()))
            }
            Error::At { location, source } => msg!("error.at", location = location.clone(), message = source.to_msg()),
            Error::NoStore(dir) => msg!("error.no_store", dir = dir.display()),
            Error::StoreInUse(dir) => msg!("error.store_in_use", dir = dir.display()),
            Error::FormatTooNew { dir, found, supported } => {
                msg!("error.format_too_new", dir = dir.display(), found = found, supported = supported)
            }
            Error::FormatTooOld { dir, found, supported } => {
                msg!("error.format_too_old", dir = dir.display(), found = found, supported = supported)
            }
            Error::Corrupt { seq, what } => msg!("error.corrupt", seq = seq, what = what.clone()),
            Error::Io { context, source } => msg!("error.io", context = context.clone(), message = source),
            Error::Storage { message, corrupt: true } => msg!("error.index_damaged", message = message),
            Error::Storage { message, corrupt: false } => msg!("error.index_failed", message = message),
            Error::Behind { expected, head } => msg!("error.behind", expected = expected, head = head),
            Error::Database { message, lost: true } => msg!("error.database_lost", message = message),
            Error::Database { message, lost: false } => msg!("error.database", message = message),
            Error::Remote { message, .. } => Msg::text(message.clone()),
        }
    }

    /// Whether deciding the same submissions again, on the state the store holds then, may
    /// succeed: another writer got in first, or the database connection dropped (a commit
    /// that did land comes back as duplicates, by the submissions' ids).
    pub fn is_retryable(&self) -> bool {
        matches!(self.root(), Error::Behind { .. } | Error::Database { lost: true, .. })
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
    fn at_with<M: Into<Msg>>(self, location: impl FnOnce() -> M) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn at_with<M: Into<Msg>>(self, location: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| e.at(location()))
    }
}
