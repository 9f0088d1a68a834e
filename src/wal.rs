//! The write-ahead journal: what makes a commit durable with one `fdatasync`.
//!
//! sled's own `flush()` costs two device round trips (its `sync_file_range`, then the
//! `fdatasync` that makes it durable). A commit instead appends its whole sled batch to this
//! journal and syncs it once, then applies the batch to sled in memory; sled writes its files
//! lazily and is made durable (flush + fdatasync + blob fsyncs) only when the journal is
//! emptied: when it outgrows `WAL_BYTES_MAX`, and when the store closes. Opening a store
//! re-applies the journal's batches that sled had not yet made durable.
//!
//! Record: `len:u32 LE | crc32(body):u32 LE | body`, where
//! `body = format:u8 (1) | count:u32 LE | (klen:u32 LE | key | vlen:u32 LE | value){count}`.
//! A torn record at the end (a crash mid-append) was never acknowledged and is cut off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const WAL_FORMAT: u8 = 1;

pub const WAL_FILE: &str = "wal";
/// The journal is emptied (sled made durable) once it holds this many bytes.
pub const WAL_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// One commit's sled writes: (key, value) pairs, applied as one atomic batch.
pub type Items = Vec<(Vec<u8>, Vec<u8>)>;

pub struct Wal {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Wal {
    /// Opens (creating) the journal in `dir`; returns it with the intact records it holds, in
    /// order, after cutting off a torn tail.
    pub fn open(dir: &Path) -> Result<(Wal, Vec<Items>)> {
        let path = dir.join(WAL_FILE);
        let io = |what: &str, e| Error::io(format!("{what} {}", path.display()), e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("opening", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("reading", e))?;
        let mut records = Vec::new();
        let mut at = 0usize;
        while bytes.len() - at >= 8 {
            let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
            let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
            let Some(body) = bytes.get(at + 8..at + 8 + len) else { break };
            if crc32fast::hash(body) != crc {
                if at + 8 + len < bytes.len() {
                    // Damage before the end is not a torn append: acknowledged commits follow it.
                    return Err(Error::Corrupt {
                        seq: 0,
                        what: format!("write-ahead journal {} is damaged at byte {at}", path.display()),
                    });
                }
                break;
            }
            let items = decode_items(body).ok_or_else(|| Error::Corrupt {
                seq: 0,
                what: format!("write-ahead journal {} has an undecodable record at byte {at}", path.display()),
            })?;
            records.push(items);
            at += 8 + len;
        }
        if at as u64 != bytes.len() as u64 {
            // A torn tail: never acknowledged. Cut it so new records follow the intact ones.
            file.set_len(at as u64).and_then(|()| file.sync_data()).map_err(|e| io("truncating", e))?;
        }
        file.seek(SeekFrom::Start(at as u64)).map_err(|e| io("seeking", e))?;
        Ok((Wal { file, path, len: at as u64 }, records))
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one commit's items and makes them durable.
    pub fn append(&mut self, items: &Items) -> Result<()> {
        // One buffer, one write: header, then the body built in place after it.
        let size: usize = 8 + 5 + items.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>();
        let mut rec = Vec::with_capacity(size);
        rec.extend_from_slice(&[0u8; 8]);
        rec.push(WAL_FORMAT);
        rec.extend_from_slice(&u32_len(items.len())?.to_le_bytes());
        for (k, v) in items {
            rec.extend_from_slice(&u32_len(k.len())?.to_le_bytes());
            rec.extend_from_slice(k);
            rec.extend_from_slice(&u32_len(v.len())?.to_le_bytes());
            rec.extend_from_slice(v);
        }
        let len = u32_len(rec.len() - 8)?;
        let crc = crc32fast::hash(&rec[8..]);
        rec[..4].copy_from_slice(&len.to_le_bytes());
        rec[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(format!("appending to {}", self.path.display()), e))?;
        self.len += rec.len() as u64;
        Ok(())
    }

    /// Empties the journal; call only once everything in it is durable in sled.
    pub fn reset(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(format!("truncating {}", self.path.display()), e))?;
        self.len = 0;
        Ok(())
    }
}

fn u32_len(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::invalid("commit too large for the journal"))
}

/// Parses a record body; `None` if it is not well formed.
fn decode_items(body: &[u8]) -> Option<Items> {
    let (&format, mut rest) = body.split_first()?;
    if format != WAL_FORMAT {
        return None;
    }
    let mut take = |n: usize| -> Option<&[u8]> {
        let (a, b) = (rest.get(..n)?, rest.get(n..)?);
        rest = b;
        Some(a)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32_at(take(4)?);
    let mut items = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let klen = u32_at(take(4)?);
        let k = take(klen)?.to_vec();
        let vlen = u32_at(take(4)?);
        let v = take(vlen)?.to_vec();
        items.push((k, v));
    }
    rest.is_empty().then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_cut_and_intact_records_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, records) = Wal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
            wal.append(&vec![(b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())]).unwrap();
        }
        let path = dir.path().join(WAL_FILE);
        let intact = std::fs::metadata(&path).unwrap().len();
        // A crash mid-append: a length prefix and half a body.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        drop(f);
        let (mut wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1], vec![(b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), intact);
        // New records follow the intact ones; a reset empties the journal.
        wal.append(&vec![(b"d".to_vec(), b"4".to_vec())]).unwrap();
        drop(wal);
        let (mut wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 3);
        wal.reset().unwrap();
        drop(wal);
        assert!(Wal::open(dir.path()).unwrap().1.is_empty());
    }

    #[test]
    fn damage_before_the_end_is_refused_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        wal.append(&vec![(b"b".to_vec(), b"2".to_vec())]).unwrap();
        drop(wal);
        let path = dir.path().join(WAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(Wal::open(dir.path()), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn a_flipped_byte_in_the_last_record_ends_the_journal_there() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.append(&vec![(b"a".to_vec(), b"1".to_vec())]).unwrap();
        let first = wal.len();
        wal.append(&vec![(b"b".to_vec(), b"2".to_vec())]).unwrap();
        drop(wal);
        let path = dir.path().join(WAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let (wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(wal.len(), first);
    }
}
