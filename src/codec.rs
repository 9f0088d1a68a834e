//! The stored byte formats, in one place so they can evolve: every value the store writes
//! starts with a one-byte format version, followed by bincode 1.3.3 (varint integers, little
//! endian, no trailing bytes, bounded length) of the value's serde form.
//!
//! Decoding refuses versions newer than this build knows, so an old binary never misreads a
//! newer store. See docs/design.md for the byte layouts.

use bincode::Options;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::Event;

/// Version byte of an encoded event.
pub const EVENT_FORMAT: u8 = 1;
/// Version byte of a chunk (a run of consecutive events committed together).
pub const CHUNK_FORMAT: u8 = 1;
/// Version byte of the other stored records (head, checkpoints).
pub const RECORD_FORMAT: u8 = 1;
/// Largest encoded event accepted by the decoder: bounds allocation when bytes are damaged.
pub const EVENT_BYTES_MAX: u64 = 64 * 1024;
/// Largest encoded record (projection checkpoints can be large).
pub const RECORD_BYTES_MAX: u64 = 1 << 30;

pub type Hash = [u8; 32];

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty value")]
    Empty,
    #[error("format version {0} is newer than this build reads ({1})")]
    TooNew(u8, u8),
    #[error("undecodable bytes: {0}")]
    Bincode(String),
    #[error("truncated chunk")]
    Truncated,
}

fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new().with_varint_encoding().with_little_endian().reject_trailing_bytes().with_limit(limit)
}

fn encode_versioned<T: Serialize>(version: u8, value: &T, limit: u64, out: &mut Vec<u8>) {
    out.push(version);
    // Serializing into a Vec cannot fail for our types: no maps with non-string keys issues,
    // no I/O; a failure would be the size limit, which encoded values never approach.
    if let Err(e) = options(limit).serialize_into(&mut *out, value) {
        panic!("bincode serialization failed: {e}");
    }
}

fn decode_versioned<T: DeserializeOwned>(version: u8, bytes: &[u8], limit: u64) -> Result<T, CodecError> {
    let (&v, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if v > version {
        return Err(CodecError::TooNew(v, version));
    }
    options(limit).deserialize(body).map_err(|e| CodecError::Bincode(e.to_string()))
}

/// The canonical bytes of an event: what is hashed, chained and (later) signed.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    encode_versioned(EVENT_FORMAT, event, EVENT_BYTES_MAX, out);
}

pub fn decode_event(bytes: &[u8]) -> Result<Event, CodecError> {
    decode_versioned(EVENT_FORMAT, bytes, EVENT_BYTES_MAX)
}

pub fn encode_record<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_versioned(RECORD_FORMAT, value, RECORD_BYTES_MAX, &mut out);
    out
}

pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_versioned(RECORD_FORMAT, bytes, RECORD_BYTES_MAX)
}

/// Link of the hash chain: `SHA-256(previous hash ‖ event bytes)`.
pub fn chain_hash(previous: &Hash, event_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(event_bytes);
    h.finalize().into()
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Builds a chunk: `[CHUNK_FORMAT][u32 count]` then per event `[u32 len][event bytes][hash]`.
pub struct ChunkWriter {
    buf: Vec<u8>,
    count: u32,
    last_start: usize,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    pub const HEADER_LEN: usize = 5;

    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.push(CHUNK_FORMAT);
        buf.extend_from_slice(&0u32.to_le_bytes());
        ChunkWriter { buf, count: 0, last_start: 0 }
    }

    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Appends one record, encoding the event in place; returns its chain hash.
    pub fn push(&mut self, event: &Event, previous: &Hash) -> Hash {
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_le_bytes());
        let start = self.buf.len();
        encode_event(event, &mut self.buf);
        let len = self.buf.len() - start;
        // Events are bounded by EVENT_BYTES_MAX at decode and by input limits at decide; an
        // event over 4 GiB cannot be built from inputs that passed validation.
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.buf[len_at..start].copy_from_slice(&len32.to_le_bytes());
        let hash = chain_hash(previous, &self.buf[start..]);
        self.last_start = start;
        self.buf.extend_from_slice(&hash);
        self.count += 1;
        hash
    }

    /// The encoded bytes of the event pushed last.
    pub fn last_event_bytes(&self) -> &[u8] {
        &self.buf[self.last_start..self.buf.len() - 32]
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf[1..5].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// One record of a chunk, borrowed: the encoded event and its stored chain hash.
pub struct RawRecord<'a> {
    pub bytes: &'a [u8],
    pub hash: Hash,
}

/// Splits a chunk into its records without decoding the events.
pub fn chunk_records(chunk: &[u8]) -> Result<Vec<RawRecord<'_>>, CodecError> {
    let (&v, rest) = chunk.split_first().ok_or(CodecError::Empty)?;
    if v > CHUNK_FORMAT {
        return Err(CodecError::TooNew(v, CHUNK_FORMAT));
    }
    let (count, mut rest) = take_u32(rest)?;
    let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let (len, r) = take_u32(rest)?;
        let len = len as usize;
        if r.len() < len + 32 {
            return Err(CodecError::Truncated);
        }
        let (bytes, r) = r.split_at(len);
        let (hash, r) = r.split_at(32);
        let mut h = [0u8; 32];
        h.copy_from_slice(hash);
        out.push(RawRecord { bytes, hash: h });
        rest = r;
    }
    if !rest.is_empty() {
        return Err(CodecError::Bincode("trailing bytes after the last record".into()));
    }
    Ok(out)
}

/// Record `index` of a chunk, found by walking the length prefixes (no allocation).
pub fn chunk_record(chunk: &[u8], index: usize) -> Result<Option<RawRecord<'_>>, CodecError> {
    let (&v, rest) = chunk.split_first().ok_or(CodecError::Empty)?;
    if v > CHUNK_FORMAT {
        return Err(CodecError::TooNew(v, CHUNK_FORMAT));
    }
    let (count, mut rest) = take_u32(rest)?;
    if index >= count as usize {
        return Ok(None);
    }
    for i in 0..=index {
        let (len, r) = take_u32(rest)?;
        let len = len as usize;
        if r.len() < len + 32 {
            return Err(CodecError::Truncated);
        }
        if i == index {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&r[len..len + 32]);
            return Ok(Some(RawRecord { bytes: &r[..len], hash }));
        }
        rest = &r[len + 32..];
    }
    Ok(None)
}

fn take_u32(b: &[u8]) -> Result<(u32, &[u8]), CodecError> {
    if b.len() < 4 {
        return Err(CodecError::Truncated);
    }
    let (n, rest) = b.split_at(4);
    Ok((u32::from_le_bytes([n[0], n[1], n[2], n[3]]), rest))
}

/// Decimals as `(scale, mantissa)`: exact, and a few bytes for typical amounts under varint.
pub mod decimal {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        (d.scale() as u8, d.mantissa()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let (scale, mantissa) = <(u8, i128)>::deserialize(d)?;
        Decimal::try_from_i128_with_scale(mantissa, u32::from(scale)).map_err(serde::de::Error::custom)
    }
}

pub mod opt_decimal {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| (d.scale() as u8, d.mantissa())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match <Option<(u8, i128)>>::deserialize(d)? {
            None => Ok(None),
            Some((scale, m)) => {
                Decimal::try_from_i128_with_scale(m, u32::from(scale)).map(Some).map_err(serde::de::Error::custom)
            }
        }
    }
}
