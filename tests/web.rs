//! The read-only web view against a real server (`serve --http`) on the Guancheng example:
//! no page without a valid token, the figures the CLI prints, a department kept to its own
//! projects' details, historical views, proofs and downloads; and, in CI, the pages in
//! headless Chromium (screenshots kept).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::{Env, BIN};

struct Web {
    child: Child,
    addr: String,
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn guancheng() -> Env {
    let env = Env::new();
    env.run_at(None, &["demo"]).ok();
    env
}

fn start(env: &Env) -> Web {
    let mut child = Command::new(BIN)
        .args(["--store", env.store().to_str().unwrap(), "serve", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.trim().strip_prefix("web view on http://").unwrap_or_else(|| panic!("server said {line:?}")).to_string();
    Web { child, addr }
}

fn token(env: &Env, principal: &str, role: &str) -> (String, String) {
    let v = env
        .run(&["--json", "web-token", "issue", "--principal", principal, "--role", role, "--expires", "2099-12-31"])
        .ok()
        .json();
    (v["token"].as_str().unwrap().to_string(), v["id"].as_str().unwrap().to_string())
}

/// A response: status, headers (lower-case names), body bytes.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 GET, the connection closed after it.
fn get(web: &Web, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut s = TcpStream::connect(&web.addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", web.addr);
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))).collect();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + n]);
        b = &b[end + 2 + n + 2..];
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn the_web_view_shows_what_the_cli_shows_and_only_to_token_holders() {
    let env = guancheng();
    let (auditor, _) = token(&env, "审计局", "auditor");
    let (education, _) = token(&env, "education", "department");
    let (revoked, revoked_id) = token(&env, "former", "auditor");
    env.run(&["web-token", "revoke", &revoked_id]).ok();
    // The token file keeps hashes only.
    let file = std::fs::read_to_string(env.store().join("web-tokens.json")).unwrap();
    assert!(!file.contains(&auditor) && file.contains("\"revoked\": true"), "{file}");
    // What the CLI says, asked before the server holds the store.
    let then = env.run(&["--json", "summary", "--year", "2021", "--as-of", "1500"]).ok().json();
    let trail = env.run(&["--json", "audit", "--entity", "baixing-road-primary"]).ok().json();
    let web = start(&env);

    // No page without a valid token: a script gets 401, a browser the login page.
    assert_eq!(get(&web, "/overview?year=2021", &[]).status, 401);
    assert_eq!(get(&web, "/overview?year=2021", &[("Authorization", &bearer(&revoked))]).status, 401);
    assert_eq!(get(&web, "/overview?year=2021", &[("Authorization", "Bearer 00")]).status, 401);
    let browser = get(&web, "/projects", &[("Accept", "text/html")]);
    assert_eq!((browser.status, browser.header("location")), (303, Some("/login")));
    assert_eq!(get(&web, &format!("/login?token={revoked}"), &[]).status, 401);
    // A login link sets the cookie and goes where it was asked, on this site only.
    let login = get(&web, &format!("/login?token={auditor}&next=%2Findicators%3Fyear%3D2021"), &[]);
    assert_eq!(login.status, 303);
    assert_eq!(login.header("location"), Some("/indicators?year=2021"));
    let cookie = login.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    assert!(login.header("set-cookie").unwrap().contains("HttpOnly"));
    let away = get(&web, &format!("/login?token={auditor}&next=%2F%2Fevil.example"), &[]);
    assert_eq!(away.header("location"), Some("/"));

    // 总览: the seed's figures, as `summary` gives them, and four charts.
    let a = [("Cookie", cookie.as_str())];
    let overview = get(&web, "/overview?year=2021", &a);
    assert_eq!(overview.status, 200);
    let page = overview.text();
    for needle in
        ["246", "694 亿元", "111.5%", "其中31个省市重点项目完成投资404.8亿元，占年度投资目标360.3亿元的112.4%"]
    {
        assert!(page.contains(needle), "overview lacks {needle}");
    }
    assert_eq!(page.matches("<svg").count(), 4, "four charts");
    assert!(
        !page.contains("http://")
            || page.matches("http://").count() == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "offline"
    );

    // As of a past seq: the banner, and the figures `summary --as-of` gives.
    let past = get(&web, "/overview?year=2021&as_of=1500", &a).text();
    assert!(past.contains("历史视图"), "banner");
    assert!(past.contains(&format!("{} 亿元", then["projects"]["completed_investment"].as_str().unwrap())), "{past}");

    // A project: its months, its milestones, its whole trail (as `audit` lists it).
    let project = get(&web, "/project/guancheng-2021/baixing-road-primary", &a);
    assert_eq!(project.status, 200);
    let rows = trail["entries"].as_array().unwrap().iter().filter(|r| r["plan"] == "guancheng-2021").count();
    let html = project.text();
    let trail_html = html.split("审计轨迹").nth(1).unwrap();
    assert_eq!(trail_html.matches("<tr>").count() - 1, rows, "one row per change, under a header");
    assert!(html.contains("百姓路小学") && html.contains("分月完成投资"));

    // A department sees its own projects' details, not another's; aggregates it sees all.
    let e = [("Authorization", bearer(&education))];
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(get(&web, "/project/guancheng-2021/baixing-road-primary", &e).status, 200);
    let other = get(&web, "/project/guancheng-2021/beautiful-villages-zhanghualou-dahu", &e);
    assert_eq!(other.status, 403, "{}", other.text());
    assert_eq!(get(&web, "/overview?year=2021", &e).status, 200);
    assert!(get(&web, "/projects?year=2021&dept=education", &e).text().contains("百姓路小学"));

    // 指标, 校验, a proof the CLI verifies, and a download.
    let ind = get(&web, "/indicators?year=2021", &a).text();
    assert!(ind.contains("地区生产总值增长") && ind.contains("未完成"));
    assert!(ind.contains("正式 3（2021年）"), "every figure reported, with its basis");
    let form = get(&web, "/proof?seq=5", &a);
    assert_eq!((form.status, form.header("location")), (303, Some("/proof/5")));
    assert_eq!(get(&web, "/proof?seq=five", &a).status, 400);
    let verify = get(&web, "/verify", &a).text();
    assert!(verify.contains("通过") && verify.contains("默克尔根"), "{verify}");
    let proof = get(&web, "/proof/5", &a);
    assert_eq!(proof.status, 200);
    let proof_file = env.file("proof.json", &proof.text());
    let xlsx = get(&web, "/download/2021/all.xlsx", &a);
    assert_eq!((xlsx.status, &xlsx.body[..2]), (200, &b"PK"[..]));
    assert_eq!(get(&web, "/download/2021/nope.exe", &a).status, 400);
    // English on request.
    assert!(get(&web, "/indicators?year=2021&lang=en", &a).text().contains("Indicators, 2021"));
    // The proof checks on its own, with no store (the server may still hold it).
    drop(web);
    env.run(&["verify-proof", proof_file.to_str().unwrap()]).ok();
}

#[test]
fn the_pages_render_in_a_real_browser() {
    let required = std::env::var("PLANLEDGER_TEST_BROWSER").is_ok_and(|v| v == "1");
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    let Some(browser) = browser else {
        assert!(!required, "PLANLEDGER_TEST_BROWSER=1 but no chromium is installed");
        eprintln!("browser test skipped: no chromium installed");
        return;
    };
    let env = guancheng();
    let (auditor, _) = token(&env, "审计局", "auditor");
    let web = start(&env);
    // Each page through the login link, as a leader opens one from a message.
    for (name, page, needles) in [
        ("overview", "/overview?year=2021", &["246", "694 亿元", "111.5%"][..]),
        ("project", "/project/guancheng-2021/baixing-road-primary", &["百姓路小学", "审计轨迹"][..]),
        ("as-of", "/overview?year=2021&as_of=1500", &["历史视图"][..]),
        ("verify", "/verify", &["通过", "默克尔根"][..]),
    ] {
        let next: String = page.bytes().map(|b| format!("%{b:02X}")).collect();
        let url = format!("http://{}/login?token={auditor}&next={next}", web.addr);
        let dom = Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", &url])
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
        for n in needles {
            assert!(dom.contains(n), "{name}: the page in the browser lacks {n}");
        }
        if name == "overview" {
            assert_eq!(dom.matches("<svg").count(), 4, "charts in the browser's DOM");
        }
        let png = env.tmp.path().join(format!("web-{name}.png"));
        let out = Command::new(browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1600"])
            .arg(format!("--screenshot={}", png.display()))
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(size > 40_000, "{name}: screenshot of {size} bytes");
        let kept = std::env::temp_dir().join(format!("planledger-web-{name}.png"));
        std::fs::copy(&png, &kept).unwrap();
        eprintln!("screenshot: {} ({size} bytes)", kept.display());
    }
}
