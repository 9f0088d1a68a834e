//! Hashes as the domain names them: the 32-byte SHA-256 values of the chain, the Merkle tree
//! and keys, and their hex spelling in every output.

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// Lower-case hex, as every output and every signed text spells bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
