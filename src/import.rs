//! `submit --batch N --file FILE.jsonl`: a large JSONL file imported in atomic batches at the
//! engine's pace. The file is read twice, a line at a time into one reused buffer, never held
//! whole:
//! 1. it is checked whole before the store is opened (every line parsed, the limits of
//!    `input::JsonlCheck`): a malformed file is refused with every bad line named and nothing
//!    written, as before;
//! 2. a parsing thread reads it again into batches of `N` submissions, signed when a key is
//!    given, and hands them over a bounded channel to this thread, which decides each batch
//!    while the ledger's writer thread writes the one before (`Ledger::submit_batches`).
//!    A batch's vector comes back when the ledger is done with it, to be emptied on the
//!    parsing thread (which allocated its strings) and filled again.
//!
//! Lines are parsed with their strings borrowed from the line (`input::parse_jsonl_line`):
//! what a line allocates is what its submission holds. docs/cli.md (`--batch`) and
//! docs/performance.md (#19, the CLI import).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;

use planledger::decide::Submission;
use planledger::error::{Error, Result};
use planledger::input;
use planledger::ledger::Ledger;
use planledger::{msg, Lang};

use crate::cli::{print_acks, Out};

/// Writes `bytes` to stdout (`out`) and flushes it, so each batch's acks show as it is durable.
fn emit_bytes(out: &mut Out, bytes: &[u8]) -> Result<()> {
    let writing = |e| Error::io(msg!("io.writing_stdout"), e);
    out.write_all(bytes).map_err(writing)?;
    out.flush().map_err(writing)
}

/// Parsed batches waiting for the deciding thread: enough to ride out a slow line or a slow
/// batch on either side, few enough that memory stays flat (a batch is at most
/// `BATCH_EVENTS_MAX` submissions).
const BATCHES_AHEAD: usize = 4;

/// The read buffer of each pass.
const READ_BUFFER: usize = 1 << 20;

/// Reads `file` a line at a time into one buffer, calling `each(n, line)` for every line
/// (1-based `n`, the line without its `\n` or `\r\n`) until it returns `false` or an error.
/// A line that is not UTF-8 is an error naming it.
fn for_each_line(file: &Path, mut each: impl FnMut(usize, &str) -> Result<bool>) -> Result<()> {
    let cannot_read = |e| Error::io(msg!("io.cannot_read", path = file.display()), e);
    let mut reader = BufReader::with_capacity(READ_BUFFER, File::open(file).map_err(cannot_read)?);
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(cannot_read)? == 0 {
            return Ok(());
        }
        n += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = std::str::from_utf8(&buf).map_err(|_| {
            Error::invalid(msg!("cli.not_utf8")).at(msg!("at.file_line", file = file.display(), line = n))
        })?;
        if !each(n, line)? {
            return Ok(());
        }
    }
}

/// Pass 1: checks the whole file as `input::parse_jsonl_max` does a text, keeping nothing;
/// returns how many submissions it holds.
pub fn check_file(file: &Path, max_lines: usize) -> Result<usize> {
    let name = file.display().to_string();
    let mut check = input::JsonlCheck::new(max_lines);
    for_each_line(file, |n, line| check.line(n, line).map(|_| true)).map_err(|e| e.in_file(&name))?;
    let count = check.finish().map_err(|e| e.in_file(&name))?;
    if count == 0 {
        return Err(Error::invalid(msg!("cli.no_submissions")).at(name));
    }
    Ok(count)
}

/// A batch of parsed submissions with the line each came from.
struct Parsed {
    subs: Vec<Submission>,
    lines: Vec<usize>,
}

/// A batch as the ledger takes it: when dropped, its vectors go back to the parsing thread.
struct Batch {
    subs: Vec<Submission>,
    back: mpsc::Sender<Vec<Submission>>,
}

impl AsRef<[Submission]> for Batch {
    fn as_ref(&self) -> &[Submission] {
        &self.subs
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // The parsing thread may be done: then the vector is freed here.
        let _ = self.back.send(std::mem::take(&mut self.subs));
    }
}

/// What the deciding thread knows of the batches it was handed.
#[derive(Default)]
struct Progress {
    /// The lines of the batch being decided (what `origin` names).
    lines: Vec<usize>,
    /// Each batch handed over and not yet durable: its index, submissions and last line.
    pending: VecDeque<(usize, usize, usize)>,
    /// Batches handed over.
    handed: usize,
    /// Durable so far: batches, submissions, and the last line of the last one.
    recorded: (usize, usize, usize),
    /// The error that stopped the parsing thread (a file changed since it was checked).
    failed: Option<Error>,
}

/// Pass 2, the parsing thread: reads `file` into batches of `n` submissions (signed with
/// `pair` for `ledger_key` as `actor`) and sends them until the file ends, a line fails to
/// parse (sent as the last item), or the deciding thread stops listening.
#[allow(clippy::too_many_arguments)]
fn parse_batches(
    file: &Path,
    n: usize,
    pair: Option<&planledger::keys::KeyPair>,
    ledger_key: &[u8; 32],
    actor: &str,
    to: &mpsc::SyncSender<Result<Parsed>>,
    recycled: &mpsc::Receiver<Vec<Submission>>,
) {
    let name = file.display().to_string();
    let fresh = |recycled: &mpsc::Receiver<Vec<Submission>>| {
        let mut v = recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(n));
        v.clear();
        v
    };
    let mut batch = Parsed { subs: fresh(recycled), lines: Vec::with_capacity(n) };
    let send = |batch: &mut Parsed, last: bool| -> bool {
        if let Some(pair) = pair {
            for sub in &mut batch.subs {
                planledger::keys::sign(pair, ledger_key, actor, sub);
            }
        }
        let next = if last {
            Parsed { subs: Vec::new(), lines: Vec::new() }
        } else {
            Parsed { subs: fresh(recycled), lines: Vec::with_capacity(n) }
        };
        to.send(Ok(std::mem::replace(batch, next))).is_ok()
    };
    let read = for_each_line(file, |line_no, line| {
        if input::is_blank(line) {
            return Ok(true);
        }
        let sub = input::parse_jsonl_line(line).map_err(|e| e.at_line(line_no))?;
        batch.subs.push(sub);
        batch.lines.push(line_no);
        Ok(batch.subs.len() < n || send(&mut batch, false))
    });
    match read {
        Ok(()) if !batch.subs.is_empty() => {
            send(&mut batch, true);
        }
        Ok(()) => {}
        Err(e) => {
            let _ = to.send(Err(e.in_file(&name)));
        }
    }
}

/// Where acks are printed, and how.
pub struct Printing<'a, 'b> {
    pub out: &'a mut Out<'b>,
    pub as_json: bool,
    pub lang: Lang,
}

/// `submit --batch n --file FILE.jsonl` on `ledger`, the file already checked (`check_file`:
/// `total` submissions). Acks are printed as each batch becomes durable; a refusal names its
/// line and what stays recorded.
pub fn submit_file(
    to: Printing,
    ledger: &mut Ledger,
    actor: &str,
    pair: Option<&planledger::keys::KeyPair>,
    file: &Path,
    total: usize,
    n: usize,
) -> Result<()> {
    let Printing { out, as_json, lang } = to;
    let name = file.display().to_string();
    let ledger_key = ledger.public_key();
    let progress = RefCell::new(Progress::default());
    let bar = crate::progress::bar(total as u64, planledger::msg::text(lang, "progress.import"), lang);
    let mut printed = Ok(());
    // A batch's acks are printed with one write: stdout writes a line at a time otherwise,
    // a system call per ack on the deciding thread.
    let mut acks_text: Vec<u8> = Vec::new();
    let result = std::thread::scope(|scope| {
        let (to, from) = mpsc::sync_channel::<Result<Parsed>>(BATCHES_AHEAD);
        let (back, recycled) = mpsc::channel::<Vec<Submission>>();
        let parser = std::thread::Builder::new()
            .name("jsonl".into())
            .spawn_scoped(scope, move || parse_batches(file, n, pair, &ledger_key, actor, &to, &recycled))
            .map_err(|e| Error::io(msg!("cli.reader_thread"), e))?;
        let shared = &progress;
        // Owns the receiver: when the ledger is done with the batches, the parser is told.
        let batches = std::iter::from_fn(move || {
            let mut p = shared.borrow_mut();
            match from.recv() {
                Ok(Ok(parsed)) => {
                    let i = p.handed;
                    p.handed += 1;
                    p.pending.push_back((i, parsed.subs.len(), parsed.lines.last().copied().unwrap_or(0)));
                    p.lines = parsed.lines;
                    Some(Batch { subs: parsed.subs, back: back.clone() })
                }
                Ok(Err(e)) => {
                    p.failed = Some(e);
                    None
                }
                // The parsing thread is done (the file ended) or gone.
                Err(_) => None,
            }
        });
        let origin = |_: usize, j: usize| {
            progress.borrow().lines.get(j).map(|&line| msg!("at.file_line", file = &name, line = line))
        };
        let result = ledger.submit_batches(actor, batches, &origin, &mut |i, acks| {
            let mut p = progress.borrow_mut();
            // Durable in order: the front is batch `i`.
            if let Some((_, subs, last)) = p.pending.pop_front() {
                p.recorded = (i + 1, p.recorded.1 + subs, last);
            }
            if let Some(b) = &bar {
                b.set_position(p.recorded.1 as u64);
            }
            if printed.is_ok() {
                acks_text.clear();
                printed = print_acks(&mut acks_text, as_json, lang, &acks).and_then(|()| emit_bytes(out, &acks_text));
            }
        });
        // `batches` (and with it the receiver) is gone: a parser still reading stops at its
        // next send. One that panicked sent nothing more: the file was not read to its end.
        if parser.join().is_err() {
            let stopped = msg!("cli.reader_stopped", path = file.display());
            progress.borrow_mut().failed = Some(Error::io(stopped, std::io::Error::other("panicked")));
        }
        result
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    printed?;
    let p = progress.into_inner();
    let result = match (result, p.failed) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(e),
        (Ok(()), None) => Ok(()),
    };
    result.map_err(|e| match p.recorded {
        (0, _, _) => e,
        (batches, _, last) => e.at(msg!(
            "cli.recorded_through",
            through = msg!("at.file_line", file = &name, line = last),
            batches = batches
        )),
    })
}
