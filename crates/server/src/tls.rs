//! TLS for the gRPC service and its clients: tonic's rustls (with ring). Certificates and
//! keys are PEM files; each is read and checked here first, so an unreadable file, or one
//! that holds no certificate or no private key, is a one-line error naming it rather than
//! a failed handshake later. 国密 (SM2/SM3/SM4, GB/T 38636) is not supported: rustls has no
//! such suites.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use planledger::error::{Error, Result};
use planledger::msg;

/// The server's certificate chain and key, and the CA its clients' certificates must chain
/// to (mutual TLS: a client without such a certificate is refused at the handshake).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// What a client trusts and, for mutual TLS, presents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFiles {
    /// The CA the server's certificate must chain to.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(msg!("tls.cannot_read", path = path.display()), e))
}

/// The PEM text of `path`, which must hold at least one certificate.
fn certificates(path: &Path) -> Result<Vec<u8>> {
    let pem = read(path)?;
    let mut found = 0;
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        c.map_err(|_| Error::invalid(msg!("tls.bad_pem", path = path.display())))?;
        found += 1;
    }
    if found == 0 {
        return Err(Error::invalid(msg!("tls.no_certificate", path = path.display())));
    }
    Ok(pem)
}

/// The PEM text of `path`, which must hold a private key.
fn private_key(path: &Path) -> Result<Vec<u8>> {
    let pem = read(path)?;
    match rustls_pemfile::private_key(&mut pem.as_slice()) {
        Ok(Some(_)) => Ok(pem),
        Ok(None) => Err(Error::invalid(msg!("tls.no_private_key", path = path.display()))),
        Err(_) => Err(Error::invalid(msg!("tls.bad_pem", path = path.display()))),
    }
}

impl ServerFiles {
    /// The server's TLS settings, every file read and checked.
    pub fn config(&self) -> Result<ServerTlsConfig> {
        let identity = Identity::from_pem(certificates(&self.cert)?, private_key(&self.key)?);
        let mut config = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(certificates(ca)?));
        }
        Ok(config)
    }

    /// The error for settings rustls refused (a key that is not the certificate's, say).
    pub fn refused(&self, error: &dyn std::fmt::Display) -> Error {
        Error::invalid(msg!(
            "tls.server_refused",
            cert = self.cert.display(),
            key = self.key.display(),
            error = error.to_string()
        ))
    }
}

impl ClientFiles {
    /// The client's TLS settings; `None` when none was asked for.
    pub fn config(&self) -> Result<Option<ClientTlsConfig>> {
        if self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            return Ok(None);
        }
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(Certificate::from_pem(certificates(ca)?));
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(certificates(cert)?, private_key(key)?));
            }
            (None, None) => {}
            _ => return Err(Error::invalid(msg!("tls.client_cert_and_key"))),
        }
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_certificate_or_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let files = ServerFiles { cert: junk.clone(), key: junk.clone(), client_ca: None };
        let e = files.config().unwrap_err().to_string();
        assert!(e.contains("junk.pem") && e.contains("certificate"), "{e}");
        let missing = ServerFiles { cert: dir.path().join("none.crt"), key: junk, client_ca: None };
        let e = missing.config().unwrap_err().to_string();
        assert!(e.contains("none.crt"), "{e}");
    }
}
