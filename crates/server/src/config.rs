//! The server's configuration file (`planledger serve --config FILE`, or
//! `PLANLEDGER_CONFIG`): TOML, every key documented in docs/operations.md and shown in
//! dist/planledger.toml. A key this version does not know is an error naming the key, the
//! file and the line, so a misspelt `[tls]` never leaves a server serving plain text.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use planledger::error::{Error, Result};
use planledger::msg;

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store directory.
    pub store: Option<PathBuf>,
    /// The gRPC address.
    pub listen: Option<String>,
    /// The web view's address.
    pub http: Option<String>,
    /// The address of `/metrics`.
    pub metrics: Option<String>,
    /// The ledger's time zone as the operator expects it: checked against the store's
    /// (`planledger time-zone`), never written to it.
    pub time_zone: Option<String>,
    /// How often the server verifies the whole log (`24h`, `30m`, …); never when absent.
    pub verify_every: Option<String>,
    pub tls: Option<Tls>,
    pub access_log: Option<AccessLog>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessLog {
    /// A file, or `stderr`, or `off`.
    pub path: Option<String>,
    pub retention_days: Option<u32>,
}

/// The longest configuration file read (it is a dozen lines).
const CONFIG_BYTES_MAX: u64 = 64 * 1024;

impl Config {
    /// Reads and checks `path`. Relative paths in it are taken from the file's directory.
    pub fn load(path: &Path) -> Result<Config> {
        let unreadable = |e| Error::io(msg!("config.cannot_read", path = path.display()), e);
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        if len > CONFIG_BYTES_MAX {
            return Err(Error::invalid(msg!("config.too_large", path = path.display(), max = CONFIG_BYTES_MAX)));
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        let mut config = Config::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(s) = config.store.as_mut() {
            rebase(s);
        }
        if let Some(t) = config.tls.as_mut() {
            for p in [t.cert.as_mut(), t.key.as_mut(), t.client_ca.as_mut()].into_iter().flatten() {
                rebase(p);
            }
        }
        if let Some(a) = config.access_log.as_mut() {
            if let Some(p) = a.path.as_mut().filter(|p| !matches!(p.as_str(), "stderr" | "off")) {
                if Path::new(p.as_str()).is_relative() {
                    *p = base.join(p.as_str()).display().to_string();
                }
            }
        }
        Ok(config)
    }

    /// Parses the text of `file` (named in errors).
    pub fn parse(text: &str, file: &Path) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            // toml names the unknown key (and the keys it knows) in its message.
            Error::invalid(msg!(
                "config.bad",
                file = file.display(),
                line = line,
                error = e.message().trim().replace('\n', " ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_read() {
        let text = r#"
store = "/var/lib/planledger"
listen = "127.0.0.1:7420"
http = "127.0.0.1:8080"
metrics = "127.0.0.1:9420"
time_zone = "Asia/Shanghai"
[tls]
cert = "/etc/planledger/server.crt"
key = "/etc/planledger/server.key"
client_ca = "/etc/planledger/clients-ca.crt"
[access_log]
path = "/var/log/planledger/access.log"
retention_days = 365
"#;
        let c = Config::parse(text, Path::new("x.toml")).unwrap();
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:7420"));
        assert_eq!(c.tls.unwrap().client_ca.unwrap(), PathBuf::from("/etc/planledger/clients-ca.crt"));
        assert_eq!(c.access_log.unwrap().retention_days, Some(365));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_file_and_line() {
        let e = Config::parse("listen = \"127.0.0.1:1\"\n[tls]\ncertificate = \"x\"\n", Path::new("/etc/p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/etc/p.toml:3"), "{e}");
        assert!(e.contains("certificate"), "{e}");
    }
}
