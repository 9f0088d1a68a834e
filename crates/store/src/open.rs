//! Where a ledger is kept, as its user names it (`--store DIR`, or `--store
//! postgresql://…?ledger=NAME`), and opening it there: the one place that chooses a backend.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::pg::{self, PgStore, PgTarget};
use crate::store::{sync_dir, write_new};
use crate::store::{EmbeddedStore, Store};
use crate::{Error, Result};

/// A store's location: a directory (the embedded store) or a ledger in a PostgreSQL database.
#[derive(Clone)]
pub enum StoreAt {
    Dir(PathBuf),
    Postgres(Box<PgTarget>),
}

impl StoreAt {
    /// A directory, unless `text` is a `postgres://` or `postgresql://` URL.
    pub fn parse(text: &OsStr) -> Result<StoreAt> {
        match text.to_str() {
            Some(url) if pg::is_url(url) => PgTarget::parse(url).map(|t| StoreAt::Postgres(Box::new(t))),
            _ => Ok(StoreAt::Dir(PathBuf::from(text))),
        }
    }

    /// The directory, for what only the embedded store has (its files, `repair`).
    pub fn dir(&self) -> Option<&Path> {
        match self {
            StoreAt::Dir(d) => Some(d),
            StoreAt::Postgres(_) => None,
        }
    }

    /// Where it is, for messages (a URL holds no password: `PgTarget::parse` refuses one).
    pub fn shown(&self) -> String {
        match self {
            StoreAt::Dir(d) => d.display().to_string(),
            StoreAt::Postgres(t) => t.shown().to_string(),
        }
    }

    /// Opens the store for appending (a directory is created; a PostgreSQL ledger's row is,
    /// once `store init` made the schema).
    pub fn open(&self) -> Result<Box<dyn Store>> {
        Ok(match self {
            StoreAt::Dir(d) => Box::new(EmbeddedStore::open(d)?),
            StoreAt::Postgres(t) => Box::new(PgStore::open(t)?),
        })
    }

    /// Opens an existing store for reading; nothing in it is changed.
    pub fn open_read_only(&self) -> Result<Box<dyn Store>> {
        Ok(match self {
            StoreAt::Dir(d) => Box::new(EmbeddedStore::open_read_only(d)?),
            StoreAt::Postgres(t) => Box::new(PgStore::open_read_only(t)?),
        })
    }
}

impl From<&Path> for StoreAt {
    fn from(dir: &Path) -> StoreAt {
        StoreAt::Dir(dir.to_path_buf())
    }
}

/// Where a ledger's own small files are (its key, its time zone): in a store, opened, or in
/// a store's directory that is not (a backup being restored into it).
pub trait Files {
    /// The file, or `None` when there is none.
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Writes the file whole and durably, replacing it; `private`: readable by its owner alone.
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()>;
    /// Writes the file whole and durably unless it exists: whether it was written.
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool>;
    /// Where they are, for messages.
    fn shown(&self) -> String;
}

impl Files for Path {
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(msg!("io.cannot_read", path = path.display()), e)),
        }
    }
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()> {
        let path = self.join(name);
        let tmp = self.join(format!("{name}.partial"));
        let io = |e| Error::io(msg!("io.cannot_write", path = path.display()), e);
        write_new(&tmp, bytes, private, true).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        sync_dir(self)
    }
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool> {
        let path = self.join(name);
        match write_new(&path, bytes, private, false) {
            Ok(()) => sync_dir(self).map(|()| true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io(msg!("io.creating", path = path.display()), e)),
        }
    }
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl Files for PathBuf {
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.as_path().read_file(name)
    }
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()> {
        self.as_path().write_file(name, bytes, private)
    }
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool> {
        self.as_path().create_file(name, bytes, private)
    }
    fn shown(&self) -> String {
        self.as_path().shown()
    }
}

impl Files for dyn Store + '_ {
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Store::read_file(self, name)
    }
    fn write_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<()> {
        Store::write_file(self, name, bytes, private)
    }
    fn create_file(&self, name: &str, bytes: &[u8], private: bool) -> Result<bool> {
        Store::create_file(self, name, bytes, private)
    }
    fn shown(&self) -> String {
        self.dir().display().to_string()
    }
}
