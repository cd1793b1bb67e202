//! Headless Chromium through Debian's chromedriver, one browser per test, with the helpers the tests share:
//! navigation that waits for the next page, full-page screenshots, keyboard input, the browser's console log.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver (and the Chromium it starts) for one test; killed when dropped, also when the test panics.
struct DriverGuard {
    child: Child,
    port: u16,
    session_id: Option<String>,
}

impl DriverGuard {
    /// Ends the WebDriver session (Chromium quits) with a plain blocking request, usable from `Drop`.
    fn delete_session(&mut self) {
        let Some(id) = self.session_id.take() else {
            return;
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request =
                format!("DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", self.port);
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink);
            }
        }
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.delete_session();
        // chromedriver runs in its own process group (its pid); end the group so no Chromium is left behind.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One signed-out browser window on the app, named after its test for the screenshot files.
pub struct Browser {
    pub client: Client,
    /// The app's origin, `http://127.0.0.1:PORT`.
    pub origin: String,
    test: &'static str,
    step: AtomicU32,
    driver_url: String,
    http: reqwest::Client,
    guard: DriverGuard,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes a test's screenshots from an earlier run, so the folder shows this run's steps only.
fn clear_screenshots(test: &str) {
    let prefix = format!("{test}-");
    for entry in std::fs::read_dir(screenshot_dir()).unwrap().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".png") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or returns None (after saying so) when they are not installed,
    /// unless `STOREDESK_REQUIRE_BROWSER=1` makes that a failure.
    pub async fn start(test: &'static str, origin: &str) -> Option<Browser> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            if std::env::var("STOREDESK_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("STOREDESK_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing; run .ci/browser-setup.sh");
            }
            eprintln!("skipped: Chromium/chromedriver not installed");
            return None;
        }
        clear_screenshots(test);
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut guard = DriverGuard {
            child,
            port,
            session_id: None,
        };
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let started = Instant::now();
        loop {
            let ready = match http.get(format!("{driver_url}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v["value"]["ready"].as_bool())
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "chromedriver did not answer on port {port} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // chromedriver listens on loopback over plain HTTP: no TLS stack is needed to talk to it.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver_url)
            .await
            .unwrap();
        guard.session_id = client.session_id().await.unwrap();
        Some(Browser {
            client,
            origin: origin.to_string(),
            test,
            step: AtomicU32::new(0),
            driver_url,
            http,
            guard,
            _profile: profile,
        })
    }

    /// Ends the session cleanly; the guard then stops chromedriver.
    pub async fn finish(mut self) {
        let client = self.client.clone();
        client.close().await.unwrap();
        self.guard.session_id = None;
    }

    fn session_url(&self, tail: &str) -> String {
        format!(
            "{}/session/{}/{tail}",
            self.driver_url,
            self.guard.session_id.as_deref().unwrap_or_default()
        )
    }

    /// A chromedriver extension command (DevTools, logs) that fantoccini has no method for.
    async fn driver_post(&self, tail: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.session_url(tail))
            .json(&body)
            .send()
            .await
            .unwrap();
        let mut value: Value = response.json().await.unwrap();
        assert!(
            value["value"]["error"].is_null(),
            "chromedriver {tail} failed: {value}"
        );
        value["value"].take()
    }

    /// Adds a virtual WebAuthn authenticator to the browser (WebDriver's extension for it): a platform passkey
    /// provider that verifies the user at once. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let value = self
            .driver_post(
                "webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                }),
            )
            .await;
        value.as_str().unwrap().to_string()
    }

    /// The credentials a virtual authenticator holds (WebDriver's extension), each with its `signCount`.
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let response = self
            .http
            .get(self.session_url(&format!(
                "webauthn/authenticator/{authenticator}/credentials"
            )))
            .send()
            .await
            .unwrap();
        let value: Value = response.json().await.unwrap();
        value["value"].as_array().cloned().unwrap_or_default()
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.driver_post("goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// Lays pages out for a window of `width` × `height` CSS pixels at scale 1, as Chromium's device emulation
    /// does: a phone's (`mobile`: the page's viewport meta tag applies, scrollbars overlay) or a desktop's. It
    /// lasts until changed, across navigations; screenshots then have that width.
    pub async fn set_window(&self, width: u32, height: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    // ---- navigation ----

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.origin))
            .await
            .unwrap();
    }

    /// The current address without the origin, e.g. `/projects/demo/keys`.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.as_str()
            .strip_prefix(&self.origin)
            .unwrap_or(url.as_str())
            .to_string()
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!(
                "{}: no element `{css}` on {}: {e}",
                self.test,
                self.path().await
            ),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    /// Replaces a text field's content by typing, as a person would.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks an element that leads to another page (a link, a submit button) and waits until that page is loaded.
    pub async fn click_and_wait(&self, css: &str) {
        let element = self.find(css).await;
        self.navigating(element.click()).await;
    }

    /// Runs an action that loads a new document and waits until the old one is gone and the new one complete.
    pub async fn navigating<F, T>(&self, action: F)
    where
        F: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let old = self.find("html").await;
        action.await.unwrap();
        let started = Instant::now();
        // A reference to the old document's root goes stale once the next document replaces it.
        while old.tag_name().await.is_ok() {
            assert!(
                started.elapsed() < WAIT,
                "{}: no new page within {WAIT:?}",
                self.test
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        loop {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await;
            if matches!(state, Ok(Value::String(ref s)) if s == "complete") {
                break;
            }
            assert!(
                started.elapsed() < WAIT,
                "{}: page did not finish loading within {WAIT:?}",
                self.test
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Signs in through the form at `/login` and waits for the page it leads to.
    pub async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click_and_wait("form[action='/login'] button[type=submit]")
            .await;
    }

    // ---- keyboard ----

    /// Presses and releases one key wherever the focus is, like a keyboard does (no element is targeted).
    pub async fn press(&self, key: Key) {
        let c: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Presses a key that sends a form (Enter) and waits for the page the form leads to.
    pub async fn press_and_wait(&self, key: Key) {
        self.navigating(async {
            self.press(key).await;
            Ok::<(), fantoccini::error::CmdError>(())
        })
        .await;
    }

    /// Presses Enter inside a form field (which sends its form, as browsers do) and waits for the next page.
    pub async fn enter_in(&self, css: &str) {
        let field = self.find(css).await;
        self.navigating(field.send_keys(&Key::Enter.to_string()))
            .await;
    }

    /// Presses a key while Shift is held, e.g. Shift+Tab.
    pub async fn press_with_shift(&self, key: Key) {
        let (shift, c): (char, char) = (Key::Shift.into(), key.into());
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c })
            .then(KeyAction::Up { value: shift });
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Types text into whatever has the focus.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".into());
        for c in text.chars() {
            actions = actions
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Describes the focused element: `#id` when it has one, else `tag "text"`.
    pub async fn focused(&self) -> String {
        let script = "const e = document.activeElement; if (!e || e === document.body) return 'body'; \
                      if (e.id) return '#' + e.id; \
                      return e.tagName.toLowerCase() + ' \"' + (e.textContent || '').trim() + '\"';";
        self.client
            .execute(script, vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    // ---- evidence ----

    /// Saves a PNG of the whole page (beyond the window) as `target/screenshots/<test>-<NN>-<step>.png`.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let width = metrics["cssContentSize"]["width"]
            .as_f64()
            .unwrap_or(1280.0)
            .ceil();
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(1000.0)
            .ceil();
        self.capture(
            step,
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        )
        .await
    }

    /// Saves a PNG of what the window shows, named like [`Browser::screenshot`]'s.
    pub async fn screenshot_window(&self, step: &str) -> PathBuf {
        self.capture(step, json!({ "format": "png" })).await
    }

    async fn capture(&self, step: &str, params: Value) -> PathBuf {
        let n = self.step.fetch_add(1, Ordering::SeqCst) + 1;
        let shot = self.cdp("Page.captureScreenshot", params).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        let path = screenshot_dir().join(format!("{}-{n:02}-{step}.png", self.test));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The browser console's entries since the last call (warnings and errors), as `LEVEL message`.
    pub async fn console(&self) -> Vec<String> {
        let entries = self
            .driver_post("se/log", json!({ "type": "browser" }))
            .await;
        entries
            .as_array()
            .map(|list| {
                list.iter()
                    .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every subresource the current page loaded (stylesheets, scripts, images, fetches), by URL.
    pub async fn resources(&self) -> Vec<String> {
        let value = self
            .client
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                vec![],
            )
            .await
            .unwrap();
        value
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The HTTP status of the current document (Chromium exposes it on the navigation timing entry).
    pub async fn status(&self) -> u16 {
        let script = "return performance.getEntriesByType('navigation')[0].responseStatus";
        let value = self.client.execute(script, vec![]).await.unwrap();
        u16::try_from(value.as_u64().unwrap_or(0)).unwrap_or(0)
    }

    /// No console error or warning since the last check, and the document and everything it loaded come from the
    /// app's origin. The one message allowed is Chromium's note that this very document answered with an error
    /// status (a refused form's 422, a 403 page): that is the page working as intended.
    pub async fn assert_clean(&self) {
        let path = self.path().await;
        let here = self.client.current_url().await.unwrap();
        let expected = format!(
            "SEVERE {here} - Failed to load resource: the server responded with a status of {} ",
            self.status().await
        );
        let console: Vec<String> = self
            .console()
            .await
            .into_iter()
            .filter(|m| !m.starts_with(&expected))
            .collect();
        assert!(
            console.is_empty(),
            "{}: console messages on {path}: {console:#?}",
            self.test
        );
        assert!(
            here.as_str().starts_with(&format!("{}/", self.origin)),
            "{}: left the app's origin: {here}",
            self.test
        );
        // Nothing sticks out sideways in a 1280 px window (long identifiers scroll inside their own box).
        let overflow = self
            .client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![])
            .await
            .unwrap();
        assert_eq!(
            overflow.as_i64(),
            Some(0),
            "{}: {path} is wider than the window (horizontal scrolling)",
            self.test
        );
        let resources = self.resources().await;
        let foreign: Vec<&String> = resources
            .iter()
            .filter(|r| !r.starts_with(&format!("{}/", self.origin)))
            .collect();
        assert!(
            foreign.is_empty(),
            "{}: requests to another origin from {path}: {foreign:?}",
            self.test
        );
    }
}
