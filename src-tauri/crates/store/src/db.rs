use crate::error::StoreError;
use crate::migrations;
use rusqlite::{Connection, OpenFlags};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use tokio::sync::oneshot;

/// How many queued jobs one transaction may group. Large enough to amortise the fsync,
/// small enough that one commit stays short.
const MAX_BATCH: usize = 256;

#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub read_connections: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            read_connections: 4,
        }
    }
}

/// A cheap clonable handle: the writer thread stops when the last handle is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
}

/// A job runs on the writer thread and returns what to do once the transaction has
/// committed (or failed to): results are only delivered after the commit, so nothing is
/// acknowledged that is not on disk.
/// `None` means the transaction could not begin: the job does not run and reports why.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;
type Completion = Box<dyn FnOnce(Result<(), &str>) + Send>;

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                    path: path.display().to_string(),
                    source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
                })?;
            }
        }
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        configure(&conn, true)?;
        migrate(&mut conn, path)?;

        let (sender, receiver) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, receiver))
            .map_err(|e| StoreError::Migration(format!("cannot start the writer thread: {e}")))?;

        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: sender,
                readers: Mutex::new(Vec::new()),
                max_readers: options.read_connections.max(1),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in a transaction on the writer thread; resolves once it is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(f, tx)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// The blocking twin of [`Store::write`], for threads outside the async runtime.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(f, tx)?;
        rx.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    fn submit<T, F>(
        &self,
        f: F,
        reply: oneshot::Sender<Result<T, StoreError>>,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let job: Job = Box::new(move |conn: Option<&Connection>| {
            let result = match conn {
                Some(conn) => run_in_savepoint(conn, f),
                None => Err(StoreError::CommitFailed(
                    "the write transaction could not begin".into(),
                )),
            };
            Box::new(move |commit: Result<(), &str>| {
                let result = match (commit, result) {
                    (Ok(()), result) => result,
                    // The job's own error says more than the commit's.
                    (Err(_), Err(e)) => Err(e),
                    (Err(commit), Ok(_)) => Err(StoreError::CommitFailed(commit.to_string())),
                };
                let _ = reply.send(result);
            }) as Completion
        });
        self.inner.writer.send(job).map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on a read-only connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Panicked(e.to_string()))?
    }

    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let pooled = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|source| StoreError::Open {
                    path: self.inner.path.display().to_string(),
                    source,
                })?;
                configure(&conn, false)?;
                conn
            }
        };
        let result = f(&conn);
        if let Ok(mut readers) = self.inner.readers.lock() {
            if readers.len() < self.inner.max_readers {
                readers.push(conn);
            }
        }
        result
    }
}

fn configure(conn: &Connection, writer: bool) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: each commit syncs the WAL, so a commit survives power loss, not only a crash
        // of this process. NORMAL would sync only at checkpoints: after a power cut the last
        // commits could be gone although their webhooks were answered 200, which breaks
        // "nothing is acknowledged before it is committed". Group commit keeps the cost of
        // the sync low.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints are run by the writer between commits (see `writer_loop`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    } else {
        // Readers map the database instead of copying each page with a read(2): a run's
        // context (full-text ranking over the knowledge base) touches many pages, and the
        // system calls were most of its cost. Pages stay shared in the OS page cache.
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = migrations::latest_version();
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found,
            supported,
        });
    }
    migrations::all()
        .to_latest(conn)
        .map_err(|e| StoreError::Migration(e.to_string()))
}

fn run_in_savepoint<T, F>(conn: &Connection, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&Connection) -> Result<T, StoreError>,
{
    conn.execute_batch("SAVEPOINT job")?;
    let result = match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(result) => result,
        Err(panic) => Err(StoreError::Panicked(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into()),
        )),
    };
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    result
}

/// WAL checkpoints never run inside a commit. SQLite's automatic checkpoint would run in the
/// `COMMIT` that crosses 1,000 WAL pages, so that commit (and every request in its group)
/// would wait for the WAL to be copied into the database and the database file synced. The
/// writer runs a passive checkpoint itself instead, after the group's results are delivered:
/// when no job is waiting and the WAL has grown by this many commits...
const CHECKPOINT_AFTER_COMMITS: u32 = 200;
/// ...or when the writer has been idle this long after a commit...
const CHECKPOINT_WHEN_IDLE: std::time::Duration = std::time::Duration::from_millis(100);
/// ...or, under a load that never leaves it idle, after this many commits regardless, so the
/// WAL (and the time readers spend in it) stays bounded.
const CHECKPOINT_FORCED_AFTER_COMMITS: u32 = 2_000;

fn checkpoint(conn: &Connection) {
    // PASSIVE never waits for readers; what it cannot copy now is copied next time.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "WAL checkpoint failed; it is retried after later commits");
    }
}

fn writer_loop(conn: Connection, jobs: mpsc::Receiver<Job>) {
    let mut next: Option<Job> = None;
    let mut commits: u32 = 0;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None if commits > 0 => match jobs.recv_timeout(CHECKPOINT_WHEN_IDLE) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    checkpoint(&conn);
                    commits = 0;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = e.to_string();
            tracing::error!(error = %message, "cannot begin a write transaction");
            for job in batch {
                job(None)(Err(&message));
            }
            continue;
        }
        let mut completions = Vec::with_capacity(batch.len());
        for job in batch {
            completions.push(job(Some(&conn)));
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            commits += 1;
        }
        for completion in completions {
            completion(commit.as_ref().map(|_| ()).map_err(|e| e.as_str()));
        }
        if commits >= CHECKPOINT_FORCED_AFTER_COMMITS {
            checkpoint(&conn);
            commits = 0;
        } else if commits >= CHECKPOINT_AFTER_COMMITS {
            match jobs.try_recv() {
                Ok(job) => next = Some(job),
                Err(_) => {
                    checkpoint(&conn);
                    commits = 0;
                }
            }
        }
    }
}
