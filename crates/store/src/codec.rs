//! The stored byte formats, in one place so they can evolve: every value the store writes
//! starts with a one-byte format version, followed by bincode 1.3.3 (varint integers, little
//! endian, no trailing bytes, bounded length) of the value's serde form.
//!
//! Decoding refuses versions newer than this build knows, so an old binary never misreads a
//! newer store. See docs/design.md for the byte layouts.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::Event;

/// Version byte of an encoded event.
pub const EVENT_FORMAT: u8 = 1;
/// Version byte of a chunk (a run of consecutive events committed together).
pub const CHUNK_FORMAT: u8 = 2;
/// Version byte of the other stored records (head, checkpoints).
pub const RECORD_FORMAT: u8 = 1;
/// Version byte of checkpoint records and partitions: the shape of the folded state
/// (`projection::State`). Raised whenever that shape changes; a checkpoint of an older
/// shape is stale, not damaged: readers pass it over and fold the log, and the next
/// checkpoint is written in the current shape.
pub const CHECKPOINT_FORMAT: u8 = 3;
/// Largest encoded event accepted by the decoder: bounds allocation when bytes are damaged.
pub use planledger_core::event::EVENT_BYTES_MAX;
/// Largest encoded record (projection checkpoints can be large).
pub const RECORD_BYTES_MAX: u64 = 1 << 30;

pub use planledger_core::hash::{hex, Hash};
pub use planledger_core::serde_decimal::{decimal, opt_decimal};

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
    #[error("chunk checksum mismatch: its stored bytes are damaged")]
    Checksum,
    #[error("hash mismatch at record {0} of its chunk: the event's stored bytes or hash were altered")]
    HashMismatch(usize),
    #[error("checkpoint format {0} is older than this build's ({CHECKPOINT_FORMAT}): the state's shape changed since")]
    Stale(u8),
}

impl CodecError {
    /// The error as a message (the catalogue's words; `Display` is the English of it). The
    /// detail of undecodable bytes stays as the decoder said it.
    pub fn to_msg(&self) -> crate::Msg {
        match self {
            CodecError::Empty => msg!("codec.empty"),
            CodecError::TooNew(found, supported) => msg!("codec.too_new", found = found, supported = supported),
            CodecError::Bincode(detail) => msg!("codec.undecodable", detail = detail),
            CodecError::Truncated => msg!("codec.truncated"),
            CodecError::Checksum => msg!("codec.checksum"),
            CodecError::HashMismatch(index) => msg!("codec.hash_mismatch", index = index),
            CodecError::Stale(found) => msg!("codec.stale", found = found, current = CHECKPOINT_FORMAT),
        }
    }
}

/// The stored format's options. Decoding adds a size limit (checked as bincode reads);
/// encoding does not (see `encode_versioned`).
fn options() -> impl Options {
    bincode::DefaultOptions::new().with_varint_encoding().with_little_endian().reject_trailing_bytes()
}

fn encode_versioned<T: Serialize>(version: u8, value: &T, limit: u64, out: &mut Vec<u8>) {
    out.push(version);
    let start = out.len();
    // Without a limit: with one, bincode first walks the whole value to size it, then again
    // to write it (half of encoding an event or a partition). The limit is checked after.
    // Serializing into a Vec cannot fail for our types: no maps with non-string keys, no I/O.
    if let Err(e) = options().serialize_into(&mut *out, value) {
        panic!("bincode serialization failed: {e}");
    }
    // Events are checked against the limit before they are staged (`event_len`), records are
    // bounded by the batch limit; a value over the limit could not be decoded again, so
    // writing it would be a bug.
    assert!((out.len() - start) as u64 <= limit, "an encoded value of {} bytes is over {limit}", out.len() - start);
}

fn decode_versioned<T: DeserializeOwned>(version: u8, bytes: &[u8], limit: u64) -> Result<T, CodecError> {
    let (&v, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if v > version {
        return Err(CodecError::TooNew(v, version));
    }
    options().with_limit(limit).deserialize(body).map_err(|e| CodecError::Bincode(e.to_string()))
}

/// The canonical bytes of an event: what is hashed, chained and (later) signed.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    encode_versioned(EVENT_FORMAT, event, EVENT_BYTES_MAX, out);
}

/// How many bytes `encode_event` would write for `event` (without writing them): what the
/// ledger checks against `EVENT_BYTES_MAX` before it stages an event.
pub fn event_len(event: &Event) -> u64 {
    // Sizing a value of our types cannot fail (see `encode_versioned`); a failure counts as
    // over every limit.
    options().serialized_size(event).map_or(u64::MAX, |n| n.saturating_add(1))
}

pub fn decode_event(bytes: &[u8]) -> Result<Event, CodecError> {
    decode_versioned(EVENT_FORMAT, bytes, EVENT_BYTES_MAX)
}

pub fn encode_record<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_versioned(RECORD_FORMAT, value, RECORD_BYTES_MAX, &mut out);
    out
}

/// As [`encode_record`], into `out` (cleared first): a reused buffer keeps large records
/// (checkpoint partitions) from growing a fresh allocation each time.
pub fn encode_record_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    out.clear();
    encode_versioned(RECORD_FORMAT, value, RECORD_BYTES_MAX, out);
}

pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_versioned(RECORD_FORMAT, bytes, RECORD_BYTES_MAX)
}

/// A checkpoint record or partition (see `CHECKPOINT_FORMAT`), into `out` (cleared first).
pub fn encode_checkpoint_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    out.clear();
    encode_versioned(CHECKPOINT_FORMAT, value, RECORD_BYTES_MAX, out);
}

pub fn encode_checkpoint<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_checkpoint_into(value, &mut out);
    out
}

/// Decodes a checkpoint record or partition; `CodecError::Stale` when an older build wrote it.
pub fn decode_checkpoint<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.first() {
        Some(&v) if v < CHECKPOINT_FORMAT => Err(CodecError::Stale(v)),
        _ => decode_versioned(CHECKPOINT_FORMAT, bytes, RECORD_BYTES_MAX),
    }
}

/// Link of the hash chain: `SHA-256(previous hash ‖ event bytes)`.
pub fn chain_hash(previous: &Hash, event_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(event_bytes);
    h.finalize().into()
}

/// Bytes of each event's chain hash kept in its chunk. The full hash of any event is the
/// chain recomputed from the chunk's `prev_hash`; the prefix lets `verify` name the exact
/// event whose bytes changed. Stored hashes are never the trust anchor (an attacker who can
/// rewrite bytes can rewrite hashes too): the head, signed tree heads and proofs are.
pub const HASH_PREFIX_LEN: usize = 8;
/// Largest decompressed chunk body accepted: bounds allocation when bytes are damaged. A chunk
/// closes at 32 KiB of body (`store::CHUNK_BYTES_MAX`) plus at most one event.
pub const CHUNK_BODY_MAX: usize = 1 << 20;
/// Length of a chunk's uncompressed header: format, count, previous hash, body length, CRC.
pub const CHUNK_HEADER_LEN: usize = 1 + 4 + 32 + 4 + 4;

/// Builds a chunk (format 2): `[CHUNK_FORMAT][u32 count][prev hash: 32][u32 body len]
/// [u32 crc32 of the compressed body]` then the body compressed as one LZ4 block, where the
/// body is, per event, `[u32 len][event bytes][first HASH_PREFIX_LEN bytes of its chain hash]`.
/// The CRC is checked on every read, so a damaged disk stops every reader at the chunk, not
/// only `verify` (which checks the hashes too).
pub struct ChunkWriter {
    body: Vec<u8>,
    count: u32,
    prev_hash: Hash,
    last_start: usize,
    last_end: usize,
}

impl ChunkWriter {
    /// A chunk whose first event chains from `prev_hash`.
    pub fn new(prev_hash: Hash) -> Self {
        ChunkWriter { body: Vec::with_capacity(16 * 1024), count: 0, prev_hash, last_start: 0, last_end: 0 }
    }

    /// Uncompressed bytes so far.
    pub fn len_bytes(&self) -> usize {
        self.body.len()
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Appends one record, encoding the event in place; returns its chain hash.
    pub fn push(&mut self, event: &Event, previous: &Hash) -> Hash {
        let len_at = self.body.len();
        self.body.extend_from_slice(&0u32.to_le_bytes());
        let start = self.body.len();
        encode_event(event, &mut self.body);
        let len = self.body.len() - start;
        // Events are bounded by EVENT_BYTES_MAX at decode and by input limits at decide; an
        // event over 4 GiB cannot be built from inputs that passed validation.
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.body[len_at..start].copy_from_slice(&len32.to_le_bytes());
        let hash = chain_hash(previous, &self.body[start..]);
        self.last_start = start;
        self.last_end = self.body.len();
        self.body.extend_from_slice(&hash[..HASH_PREFIX_LEN]);
        self.count += 1;
        hash
    }

    /// The encoded bytes of the event pushed last.
    pub fn last_event_bytes(&self) -> &[u8] {
        &self.body[self.last_start..self.last_end]
    }

    pub fn finish(self) -> Vec<u8> {
        seal_chunk(self.count, &self.prev_hash, &self.body)
    }
}

/// A chunk's stored bytes from its parts (the inverse of [`open_chunk`]).
pub fn seal_chunk(count: u32, prev_hash: &Hash, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHUNK_HEADER_LEN + body.len() / 2);
    out.push(CHUNK_FORMAT);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(prev_hash);
    // Bodies are bounded by CHUNK_BODY_MAX (far below 4 GiB) when they are built.
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    let packed = lz4_flex::block::compress(body);
    out.extend_from_slice(&crc32fast::hash(&packed).to_le_bytes());
    out.extend_from_slice(&packed);
    out
}

/// A chunk's header, read without decompressing the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    pub count: u32,
    pub prev_hash: Hash,
    pub body_len: usize,
    /// CRC-32 of the compressed body as stored.
    pub crc: u32,
}

pub fn chunk_header(chunk: &[u8]) -> Result<ChunkHeader, CodecError> {
    let (&v, rest) = chunk.split_first().ok_or(CodecError::Empty)?;
    if v > CHUNK_FORMAT {
        return Err(CodecError::TooNew(v, CHUNK_FORMAT));
    }
    if v < CHUNK_FORMAT {
        return Err(CodecError::Bincode(format!("chunk format {v} predates this build's format {CHUNK_FORMAT}")));
    }
    let (count, rest) = take_u32(rest)?;
    let prev = rest.get(..32).ok_or(CodecError::Truncated)?;
    let (body_len, rest) = take_u32(&rest[32..])?;
    let (crc, _) = take_u32(rest)?;
    let body_len = body_len as usize;
    if body_len > CHUNK_BODY_MAX {
        return Err(CodecError::Bincode(format!("chunk body of {body_len} bytes is over the limit")));
    }
    let mut prev_hash = [0u8; 32];
    prev_hash.copy_from_slice(prev);
    Ok(ChunkHeader { count, prev_hash, body_len, crc })
}

/// Decompresses a chunk's body into `body` (reusing its allocation); returns the header.
pub fn open_chunk_into(chunk: &[u8], body: &mut Vec<u8>) -> Result<ChunkHeader, CodecError> {
    let header = chunk_header(chunk)?;
    let packed = &chunk[CHUNK_HEADER_LEN..];
    if crc32fast::hash(packed) != header.crc {
        return Err(CodecError::Checksum);
    }
    // Resized, not cleared: a reused buffer is zeroed only where it grows (the decompression
    // overwrites all of it, checked just below).
    body.resize(header.body_len, 0);
    let n = lz4_flex::block::decompress_into(packed, body)
        .map_err(|e| CodecError::Bincode(format!("chunk body does not decompress: {e}")))?;
    if n != header.body_len {
        return Err(CodecError::Truncated);
    }
    Ok(header)
}

/// A decompressed chunk.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub header: ChunkHeader,
    pub body: Vec<u8>,
}

pub fn open_chunk(chunk: &[u8]) -> Result<Chunk, CodecError> {
    let mut body = Vec::new();
    let header = open_chunk_into(chunk, &mut body)?;
    Ok(Chunk { header, body })
}

/// One record of a chunk body, borrowed: the encoded event and its stored hash prefix.
#[derive(Clone, Copy, Debug)]
pub struct RawRecord<'a> {
    pub bytes: &'a [u8],
    pub hash_prefix: [u8; HASH_PREFIX_LEN],
}

/// The record at the start of `body`, and the rest.
pub fn next_record(body: &[u8]) -> Result<(RawRecord<'_>, &[u8]), CodecError> {
    let (len, r) = take_u32(body)?;
    let len = len as usize;
    if r.len() < len + HASH_PREFIX_LEN {
        return Err(CodecError::Truncated);
    }
    let (bytes, r) = r.split_at(len);
    let (prefix, r) = r.split_at(HASH_PREFIX_LEN);
    let mut hash_prefix = [0u8; HASH_PREFIX_LEN];
    hash_prefix.copy_from_slice(prefix);
    Ok((RawRecord { bytes, hash_prefix }, r))
}

impl Chunk {
    /// Every record, in order, without decoding the events.
    pub fn records(&self) -> Result<Vec<RawRecord<'_>>, CodecError> {
        let mut rest = &self.body[..];
        let mut out = Vec::with_capacity(self.header.count.min(1 << 16) as usize);
        for _ in 0..self.header.count {
            let (r, more) = next_record(rest)?;
            out.push(r);
            rest = more;
        }
        if !rest.is_empty() {
            return Err(CodecError::Bincode("trailing bytes after the last record".into()));
        }
        Ok(out)
    }

    /// Record `index` and its full chain hash (recomputed from the chunk's `prev_hash`); an
    /// error if a recomputed hash disagrees with a stored prefix on the way.
    pub fn record_with_hash(&self, index: usize) -> Result<Option<(RawRecord<'_>, Hash)>, CodecError> {
        if index >= self.header.count as usize {
            return Ok(None);
        }
        let mut rest = &self.body[..];
        let mut hash = self.header.prev_hash;
        for i in 0..=index {
            let (r, more) = next_record(rest)?;
            hash = chain_hash(&hash, r.bytes);
            if hash[..HASH_PREFIX_LEN] != r.hash_prefix {
                return Err(CodecError::HashMismatch(i));
            }
            if i == index {
                return Ok(Some((r, hash)));
            }
            rest = more;
        }
        Ok(None)
    }
}

/// The id of an encoded event, read from its leading fields without decoding the rest:
/// `[EVENT_FORMAT][varint seq][varint 16][16 id bytes]...` (bincode's varint encoding).
pub fn event_id(bytes: &[u8]) -> Result<uuid::Uuid, CodecError> {
    let (&v, rest) = bytes.split_first().ok_or(CodecError::Empty)?;
    if v > EVENT_FORMAT {
        return Err(CodecError::TooNew(v, EVENT_FORMAT));
    }
    // bincode varint: < 251 is one byte; 251, 252, 253 prefix a u16, u32, u64.
    let seq_len = match rest.first().ok_or(CodecError::Truncated)? {
        0..=250 => 1,
        251 => 3,
        252 => 5,
        253 => 9,
        _ => return Err(CodecError::Bincode("bad varint in event seq".into())),
    };
    let rest = rest.get(seq_len..).ok_or(CodecError::Truncated)?;
    match rest.split_first() {
        Some((16, id)) if id.len() >= 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&id[..16]);
            Ok(uuid::Uuid::from_bytes(b))
        }
        _ => Err(CodecError::Bincode("event id is not 16 bytes".into())),
    }
}

fn take_u32(b: &[u8]) -> Result<(u32, &[u8]), CodecError> {
    if b.len() < 4 {
        return Err(CodecError::Truncated);
    }
    let (n, rest) = b.split_at(4);
    Ok((u32::from_le_bytes([n[0], n[1], n[2], n[3]]), rest))
}

/// Decimals as `(scale, mantissa)`: exact, and a few bytes for typical amounts under varint.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_without_the_limit_writes_what_the_limited_options_read_back() {
        let value = ("plan-2022".to_string(), vec![7u64, 300, 70_000], Some(-5i32));
        let mut out = Vec::new();
        encode_versioned(RECORD_FORMAT, &value, 64, &mut out);
        let expected = options().with_limit(64).serialize(&value).unwrap();
        assert_eq!(&out[1..], expected.as_slice());
        let back: (String, Vec<u64>, Option<i32>) = decode_versioned(RECORD_FORMAT, &out, 64).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    #[should_panic(expected = "over 8")]
    fn a_value_over_its_limit_is_never_written() {
        encode_versioned(RECORD_FORMAT, &"a string longer than eight bytes", 8, &mut Vec::new());
    }
}
