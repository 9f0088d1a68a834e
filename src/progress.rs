//! Progress bars for long commands (imports, `verify`): on stderr, and only when stderr is
//! a terminal, so scripts and pipes see exactly what they always did.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use planledger::Lang;

/// Work below this many items finishes before a bar is worth drawing.
pub const BAR_MIN_ITEMS: u64 = 5_000;

/// A bar over `len` items labelled `what` (already in the user's language), or `None` when
/// stderr is not a terminal or the work is small.
pub fn bar(len: u64, what: &str, lang: Lang) -> Option<ProgressBar> {
    if len < BAR_MIN_ITEMS || !std::io::stderr().is_terminal() {
        return None;
    }
    let template = match lang {
        Lang::Zh => "{msg} [{bar:40}] {pos}/{len} 个事件，剩余约 {eta}",
        Lang::En => "{msg} [{bar:40}] {pos}/{len} events, about {eta} left",
    };
    let style = ProgressStyle::with_template(template).ok()?.progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()).with_style(style);
    bar.set_message(what.to_string());
    Some(bar)
}
