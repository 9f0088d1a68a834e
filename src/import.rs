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
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
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

/// A file at least this large is checked (pass 1) in two halves at once, one per core.
const SPLIT_CHECK_BYTES_MIN: u64 = 4 << 20;

fn cannot_read(file: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(msg!("io.cannot_read", path = file.display()), e)
}

/// Reads `file` a line at a time into one buffer, calling `each(n, line)` for every line
/// (1-based `n`, the line without its `\n` or `\r\n`) until it returns `false` or an error.
/// A line that is not UTF-8 is an error naming it.
fn for_each_line(file: &Path, each: impl FnMut(usize, &str) -> Result<bool>) -> Result<()> {
    for_each_line_in(file, 0..u64::MAX, 0, each)
}

/// As `for_each_line`, for the lines of `file` that start in `bytes` (which starts at a
/// line's start), the first of them numbered `lines_before + 1`.
fn for_each_line_in(
    file: &Path,
    bytes: Range<u64>,
    lines_before: usize,
    mut each: impl FnMut(usize, &str) -> Result<bool>,
) -> Result<()> {
    let mut f = File::open(file).map_err(cannot_read(file))?;
    f.seek(SeekFrom::Start(bytes.start)).map_err(cannot_read(file))?;
    let mut reader = BufReader::with_capacity(READ_BUFFER, f).take(bytes.end - bytes.start);
    let mut buf = Vec::with_capacity(1024);
    let mut n = lines_before;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(cannot_read(file))? == 0 {
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
/// returns how many submissions it holds. A large file is checked in two halves at once
/// (nothing else runs meanwhile), with the same errors in the same order as one pass: the
/// second half's lines are numbered after the first's, its bad lines follow the first's,
/// and a file over `max_lines` is checked again in one pass, which stops at the line
/// over the limit and names it.
pub fn check_file(file: &Path, max_lines: usize) -> Result<usize> {
    let name = file.display().to_string();
    let len = std::fs::metadata(file).map_err(cannot_read(file))?.len();
    let check = match len >= SPLIT_CHECK_BYTES_MIN {
        true => check_halves(file, len),
        false => check_range(file, 0..len, 0, max_lines),
    };
    let check = match check {
        Ok(c) if c.submissions() > max_lines => check_range(file, 0..len, 0, max_lines),
        other => other,
    };
    let count = check.and_then(input::JsonlCheck::finish).map_err(|e| e.in_file(&name))?;
    if count == 0 {
        return Err(Error::invalid(msg!("cli.no_submissions")).at(name));
    }
    Ok(count)
}

/// Checks the lines that start in `bytes` (numbered from `lines_before + 1`), at most
/// `max_lines` submissions.
fn check_range(file: &Path, bytes: Range<u64>, lines_before: usize, max_lines: usize) -> Result<input::JsonlCheck> {
    let mut check = input::JsonlCheck::new(max_lines);
    for_each_line_in(file, bytes, lines_before, |n, line| check.line(n, line).map(|_| true))?;
    Ok(check)
}

/// Checks `file` (of `len` bytes) as two halves on two threads, split after a newline near
/// the middle; the second thread first counts the lines before its half. No limit on the
/// submissions: the caller compares the total with its own.
fn check_halves(file: &Path, len: u64) -> Result<input::JsonlCheck> {
    let split = line_start_after(file, len / 2)?;
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| {
            let before = count_lines(file, split)?;
            check_range(file, split..len, before, usize::MAX)
        });
        let first = check_range(file, 0..split, 0, usize::MAX);
        // A panic there is a bug: it goes on here.
        let second = second.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (first, second)
    });
    // The first half's failure (a line not UTF-8, a read error) is the one a single pass meets first.
    Ok(first?.then(second?))
}

/// The offset just after the first newline at or after `at` (the file's length if none).
fn line_start_after(file: &Path, at: u64) -> Result<u64> {
    let mut f = File::open(file).map_err(cannot_read(file))?;
    f.seek(SeekFrom::Start(at)).map_err(cannot_read(file))?;
    let mut reader = BufReader::with_capacity(64 << 10, f);
    let mut skipped = Vec::new();
    let n = reader.read_until(b'\n', &mut skipped).map_err(cannot_read(file))?;
    Ok(at + n as u64)
}

/// Lines that end in the file's first `end` bytes (`end` just after a newline).
fn count_lines(file: &Path, end: u64) -> Result<usize> {
    let mut reader = File::open(file).map_err(cannot_read(file))?.take(end);
    let mut buf = vec![0u8; READ_BUFFER];
    let mut lines = 0;
    loop {
        let n = reader.read(&mut buf).map_err(cannot_read(file))?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
}

/// A batch of parsed submissions with the line each came from.
pub(crate) struct Parsed {
    pub(crate) subs: Vec<Submission>,
    pub(crate) lines: Vec<usize>,
}

/// Who signs a file's submissions: the key pair, the ledger they are for, the actor.
pub(crate) type Signer<'a> = (&'a planledger::keys::KeyPair, &'a [u8; 32], &'a str);

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
    let fresh = || {
        let mut v = recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(n));
        v.clear();
        v
    };
    let signer = pair.map(|p| (p, ledger_key, actor));
    if let Err(e) = each_batch(file, n, signer, &fresh, &mut |batch| to.send(Ok(batch)).is_ok()) {
        let _ = to.send(Err(e));
    }
}

/// Reads `file` (checked already) into batches of `n` submissions, each signed by `signer`
/// when there is one, and gives them to `give` one by one, until the file ends, a line fails
/// to parse or a batch to be signed (the error, named in the file), or `give` says stop.
/// `fresh` gives each batch its vector.
pub(crate) fn each_batch(
    file: &Path,
    n: usize,
    signer: Option<Signer>,
    fresh: &dyn Fn() -> Vec<Submission>,
    give: &mut dyn FnMut(Parsed) -> bool,
) -> Result<()> {
    let name = file.display().to_string();
    let mut batch = Parsed { subs: fresh(), lines: Vec::with_capacity(n) };
    let mut unsigned = None;
    let mut send = |batch: &mut Parsed, last: bool| -> bool {
        if let Some((pair, ledger_key, actor)) = signer {
            if let Err(e) = planledger::keys::sign_all(pair, ledger_key, actor, &mut batch.subs) {
                unsigned = Some(e);
                return false;
            }
        }
        let next = if last {
            Parsed { subs: Vec::new(), lines: Vec::new() }
        } else {
            Parsed { subs: fresh(), lines: Vec::with_capacity(n) }
        };
        give(std::mem::replace(batch, next))
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
        Err(e) => return Err(e.in_file(&name)),
    }
    unsigned.map_or(Ok(()), Err)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `n` lines over `SPLIT_CHECK_BYTES_MIN`, each a valid investment, CRLF-ended,
    /// with a blank line every 1,000.
    fn lines(n: usize) -> Vec<String> {
        (1..=n)
            .map(|k| match k % 1_000 {
                0 => "  ".to_string(),
                _ => format!(
                    "{{\"type\":\"investment\",\"id\":\"00000000-0000-7000-8000-{k:012}\",\"project\":\"p-{k}\",\
                     \"period\":\"2022-03\",\"amount\":\"{k}.5\",\"note\":\"第{k}行\"}}"
                ),
            })
            .collect()
    }

    fn write(dir: &Path, lines: &[String], tail: &[u8]) -> std::path::PathBuf {
        let path = dir.join("f.jsonl");
        let mut bytes = (lines.join("\r\n") + "\r\n").into_bytes();
        bytes.extend_from_slice(tail);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// What one pass over the whole file says.
    fn one_pass(file: &Path, max: usize) -> std::result::Result<usize, String> {
        let name = file.display().to_string();
        check_range(file, 0..u64::MAX, 0, max)
            .and_then(input::JsonlCheck::finish)
            .map_err(|e| e.in_file(&name).to_string())
    }

    /// Checked in two halves, a file gives what one pass gives: the count, or the same
    /// errors in the same order with the same line numbers.
    #[test]
    fn a_file_checked_in_two_halves_says_what_one_pass_says() {
        let tmp = tempfile::tempdir().unwrap();
        let n = 40_000;
        let good = lines(n);
        let mut cases: Vec<(Vec<String>, Vec<u8>, usize)> = vec![(good.clone(), Vec::new(), usize::MAX)];
        // Bad lines in both halves, one right after the middle.
        let mut bad = good.clone();
        for k in [2, n / 2 - 1, n / 2, n / 2 + 1, n - 3] {
            bad[k] = format!("{{\"type\":\"investment\",\"project\":\"x\",\"period\":\"2022-13\",\"amount\":\"{k}\"}}");
        }
        cases.push((bad.clone(), Vec::new(), usize::MAX));
        // A line that is not UTF-8 after bad lines of the first half; a last line without a newline.
        cases.push((bad.clone(), b"{\"type\":\"x\xff\"}\r\n".to_vec(), usize::MAX));
        cases.push((good.clone(), b"{\"type\":\"investment\"}".to_vec(), usize::MAX));
        // Over the limit in the second half, and in the first.
        cases.push((good.clone(), Vec::new(), n - 100));
        cases.push((good.clone(), Vec::new(), 10));
        for (i, (lines, tail, max)) in cases.into_iter().enumerate() {
            let path = write(tmp.path(), &lines, &tail);
            assert!(std::fs::metadata(&path).unwrap().len() >= SPLIT_CHECK_BYTES_MIN);
            let halves = check_file(&path, max).map_err(|e| e.to_string());
            assert_eq!(halves, one_pass(&path, max), "case {i}");
            if i == 0 {
                assert_eq!(halves, Ok(n - n / 1_000));
            }
            if i == 1 {
                let e = halves.unwrap_err();
                assert!(e.contains(&format!("line {}:", n / 2 + 2)) && e.contains(&format!("line {}:", n - 2)), "{e}");
            }
        }
    }
}
