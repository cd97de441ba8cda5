//! Starts `s3s-fs` (the `s3s` crate's file-system backend: an independent S3 server that verifies
//! every SigV4 signature itself) for tests of two binaries: `shared/tests/presign_s3s.rs` and
//! `tests/api` (which includes this file by path). `shared/tests/presign_s3s.rs`'s header lists
//! the keys s3s-fs cannot store.
//!
//! The binary is found at `$S3S_FS_BIN`, else `<workspace>/.tools/bin/s3s-fs`; `scripts/bootstrap.sh`
//! installs it. Without it the tests fail (they never skip).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn s3s_fs_binary() -> PathBuf {
    let path = match std::env::var_os("S3S_FS_BIN") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(".tools/bin/s3s-fs"),
    };
    assert!(
        path.is_file(),
        "the s3s-fs binary is missing at {}: run scripts/bootstrap.sh (it installs s3s-fs into .tools/bin), \
         or set S3S_FS_BIN to an s3s-fs binary",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A running `s3s-fs` that knows one key pair; dropping it kills the process and removes its files.
#[derive(Debug)]
pub struct S3sFsProcess {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl S3sFsProcess {
    /// Starts the server on a free loopback port with `access_key` / `secret_key`, and waits until
    /// it listens.
    pub fn start(access_key: &str, secret_key: &str) -> Self {
        let binary = s3s_fs_binary();
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir_all(dir.path().join("data")).expect("the data dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("create the server log");
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", access_key, "--secret-key", secret_key])
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = Self { child, dir, port };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("s3s-fs exited ({status}) before listening:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on {addr} within 20 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server wrote to stdout and stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory it serves: `<data dir>/<bucket>/<key>` is an object.
    #[allow(dead_code)] // used by one of the two test binaries only
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for S3sFsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
