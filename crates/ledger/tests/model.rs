//! A model-based test of the store's recovery, in the style of sled's and redb's: random
//! sequences of append / reopen / torn append / damage, run against an in-memory model of
//! what was acknowledged. After every step the store must hold exactly what the model says:
//! nothing acknowledged lost, nothing unacknowledged appearing, damage refused rather than
//! cut, and a torn tail cut without a trace.

use std::io::Write;
use std::path::{Path, PathBuf};

use planledger::clock::{CountingIds, SteppingClock};
use planledger::ledger::Ledger;
use planledger::store::{EmbeddedStore, Store};
use planledger::workload::{self, Workload};

/// Steps of one run; CI runs them all (a few seconds).
const STEPS: usize = 10_000;

/// xorshift64*: deterministic, so a failure names its seed and step and can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn open(dir: &Path, clock_from: i64) -> Ledger {
    let start = planledger::model::Timestamp(workload::clock_start().0 + clock_from);
    Ledger::open(dir, Box::new(SteppingClock::new(start, 1_000)), Box::new(CountingIds(1 << 96 | clock_from as u128)))
        .unwrap()
}

fn last_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("log")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    segments.pop().unwrap()
}

/// What the model holds: the id of every acknowledged event, by seq.
fn assert_matches(store: &dyn Store, model: &[uuid::Uuid], full: bool, at: &str) {
    assert_eq!(store.head().events(), model.len() as u64, "{at}: event count");
    if full {
        let ids: Vec<uuid::Uuid> = store.events(1).map(|e| e.unwrap().id).collect();
        assert_eq!(ids, model, "{at}: the log differs from what was acknowledged");
        assert!(planledger::verify::verify(store).unwrap().ok(), "{at}: verify");
    } else if let Some(last) = model.last() {
        assert_eq!(store.get_event(model.len() as u64).unwrap().map(|e| e.id), Some(*last), "{at}: last event");
    }
}

#[test]
fn recovery_never_loses_an_acknowledged_event_nor_shows_an_unacknowledged_one() {
    let seed = 0x5eed_2026_1203u64;
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut ledger = open(dir, 0);
    let w = Workload { projects_per_year: 20, first_year: 2001, batch: 200 };
    ledger.submit(workload::ACTOR, &w.batches(200).next().unwrap(), &|_| None).unwrap();
    let targets = workload::investments(ledger.store(), 8).unwrap();
    let mut model: Vec<uuid::Uuid> = ledger.store().events(1).map(|e| e.unwrap().id).collect();
    let mut ledger = Some(ledger);
    let (mut appends, mut reopens, mut torn, mut damaged) = (0, 0, 0, 0);
    for step in 0..STEPS {
        let at = format!("seed {seed:#x} step {step}");
        match rng.below(1_000) {
            // Append a request of 1 or 2 corrections: acknowledged, so in the model.
            0..=981 => {
                let l = ledger.as_mut().unwrap();
                let subs: Vec<_> = (0..1 + rng.below(8) / 7)
                    .map(|_| {
                        let target = targets[rng.below(targets.len() as u64) as usize];
                        workload::correction(target, 1 + rng.below(1_000_000) as i64, "模型")
                    })
                    .collect();
                match l.submit(workload::ACTOR, &subs, &|_| None) {
                    Ok(acks) => {
                        for a in acks.iter().filter(|a| !a.duplicate) {
                            assert_eq!(a.seq, model.len() as u64 + 1, "{at}: seqs are dense");
                            model.push(a.id);
                        }
                        appends += 1;
                    }
                    // A correction to the value it already has is refused, writing nothing.
                    Err(e) => assert!(e.to_string().contains("already"), "{at}: {e}"),
                }
            }
            // Close and open again.
            982..=987 => {
                drop(ledger.take());
                ledger = Some(open(dir, step as i64 * 1_000_000));
                reopens += 1;
            }
            // A crash mid-append: the last segment ends in part of a record, or in zeros.
            988..=993 => {
                drop(ledger.take());
                let seg = last_segment(dir);
                let mut tail = vec![0u8; 1 + rng.below(4096) as usize];
                let n = tail.len();
                if rng.below(2) == 0 && n >= 4 {
                    // A record header promising more bytes than follow.
                    tail[..4].copy_from_slice(&(n as u32 + 100).to_le_bytes());
                    if tail.len() >= 8 {
                        for b in &mut tail[8..] {
                            *b = rng.below(256) as u8;
                        }
                    }
                }
                std::fs::OpenOptions::new().append(true).open(&seg).unwrap().write_all(&tail).unwrap();
                ledger = Some(open(dir, step as i64 * 1_000_000));
                torn += 1;
            }
            // Damage: one bit of a complete record flipped. The store must refuse it (verify,
            // and an open that reads the record); with the bit restored all is as before.
            _ => {
                drop(ledger.take());
                let seg = last_segment(dir);
                let mut bytes = std::fs::read(&seg).unwrap();
                if bytes.len() > 16 {
                    let i = 8 + rng.below(bytes.len() as u64 - 8) as usize;
                    let bit = 1u8 << rng.below(8);
                    bytes[i] ^= bit;
                    std::fs::write(&seg, &bytes).unwrap();
                    let refused = match EmbeddedStore::open(dir) {
                        Err(_) => true,
                        Ok(s) => !planledger::verify::verify(&s).unwrap().ok(),
                    };
                    assert!(refused, "{at}: a flipped bit at byte {i} of {} went unnoticed", seg.display());
                    bytes[i] ^= bit;
                    std::fs::write(&seg, &bytes).unwrap();
                    damaged += 1;
                }
                ledger = Some(open(dir, step as i64 * 1_000_000));
            }
        }
        let l = ledger.as_ref().unwrap();
        assert_matches(l.store(), &model, step % 1_000 == 0, &at);
    }
    let l = ledger.take().unwrap();
    assert_matches(l.store(), &model, true, "end");
    assert!(appends > 9_000 && reopens > 30 && torn > 30 && damaged > 30, "{appends} {reopens} {torn} {damaged}");
}
