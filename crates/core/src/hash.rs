//! Hashes as the domain names them: the 32-byte SHA-256 values of the chain, the Merkle tree
//! and keys, and their hex spelling in every output.

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// Lower-case hex, as every output and every signed text spells bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
