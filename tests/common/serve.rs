//! A real `planledger serve` for tests: started on a loopback port, killed when dropped, and
//! the CLI run against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::{output, path_str, Env, Run, BIN};

pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(env: &Env) -> Server {
    start_with(env, false).0
}

/// The server, with the web view beside gRPC when `http`: (server, the web view's address).
pub fn start_with(env: &Env, http: bool) -> (Server, Option<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["--store", path_str(&env.store()), "serve", "--listen", "127.0.0.1:0"]);
    if http {
        cmd.args(["--http", "127.0.0.1:0"]);
    }
    let mut child = cmd.env_remove("PLANLEDGER_SERVER").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut web = None;
    loop {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(w) = line.trim().strip_prefix("web view on http://") {
            web = Some(w.to_string());
            continue;
        }
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("server said {line:?}")).to_string();
        return (Server { child, addr }, web);
    }
}

/// Runs the CLI against the server (no --store: the server owns it).
pub fn remote(srv: &Server, key: Option<&str>, args: &[&str]) -> Run {
    let mut c = Command::new(BIN);
    c.args(["--server", &srv.addr]);
    if let Some(k) = key {
        c.args(["--key", k]);
    }
    c.args(args).env_remove("PLANLEDGER_STORE").env_remove("PLANLEDGER_NOW").env("PLANLEDGER_STORE", "/nonexistent");
    output(c.output().unwrap())
}
