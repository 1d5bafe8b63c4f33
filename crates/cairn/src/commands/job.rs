//! `cairn job`: maintenance jobs on a running cairn (`/api/v1/jobs`):
//! garbage collection, retention, fsck and backups run by the server in the
//! background, their progress and results readable from any replica.
//! `--wait` follows a job with a progress bar; Ctrl-C while waiting asks the
//! job to stop at its next safe point. `cairn gc status` and `cairn gc run`
//! are the collector's own operations (`/api/v1/gc`).

use super::client::{print_answer, print_table, rows, when, ServerArgs};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum JobCommand {
    /// The 100 most recent jobs.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Start a job on the server; with --wait, follow it to its end.
    Start {
        #[command(subcommand)]
        job: NewJob,
    },
    /// A job's state, progress and result; with --wait, follow it to its end.
    Show {
        id: String,
        #[command(flatten)]
        wait: Follow,
    },
    /// Ask a running job to stop at its next safe point.
    Cancel {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum NewJob {
    /// One garbage collector run.
    Gc {
        /// Keep unreferenced blobs this long [default: the server's gc.grace_secs].
        #[arg(long)]
        grace_secs: Option<u64>,
        #[command(flatten)]
        wait: Follow,
    },
    /// The configured retention policies, carried out now.
    Retention {
        #[command(flatten)]
        wait: Follow,
    },
    /// The consistency check of metadata and blob storage.
    Fsck {
        /// Also read every blob and check its bytes against its digest.
        #[arg(long)]
        rehash: bool,
        #[command(flatten)]
        wait: Follow,
    },
    /// A backup into a directory on the server.
    Backup {
        /// The directory, on the server's machine.
        to: PathBuf,
        #[command(flatten)]
        wait: Follow,
    },
}

#[derive(clap::Args)]
pub struct Follow {
    /// Follow the job to its end (a progress bar on a terminal); exit
    /// non-zero if it fails or is cancelled.
    #[arg(long)]
    wait: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Subcommand)]
pub enum GcCommand {
    /// The server's blob rows by state (live, candidate, deleting) and its
    /// collector settings.
    Status {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One collector run on the server now, answered with its report when
    /// it ends (`cairn job start gc --wait` runs it as a job instead).
    Run {
        #[arg(long)]
        grace_secs: Option<u64>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn job_command(cmd: JobCommand) -> anyhow::Result<()> {
    match cmd {
        JobCommand::List { json, server } => {
            let answer = server.call(Method::GET, &["jobs"], &[], None).await?;
            print_answer(&answer, json, |a| {
                let jobs: Vec<Value> = rows(a, "jobs")
                    .iter()
                    .map(|j| {
                        let mut j = j.clone();
                        j["started_at"] = when(&j["started_at"]).into();
                        j["finished_at"] = match j["finished_at"].is_null() {
                            true => Value::Null,
                            false => when(&j["finished_at"]).into(),
                        };
                        j
                    })
                    .collect();
                print_table(
                    &jobs,
                    &[
                        ("ID", "/id"),
                        ("KIND", "/kind"),
                        ("STATE", "/state"),
                        ("BY", "/actor"),
                        ("STARTED", "/started_at"),
                        ("FINISHED", "/finished_at"),
                    ],
                )
            });
            Ok(())
        }
        JobCommand::Start { job } => {
            let (body, follow) = match job {
                NewJob::Gc { grace_secs, wait } => {
                    (json!({ "kind": "gc", "grace_secs": grace_secs }), wait)
                }
                NewJob::Retention { wait } => (json!({ "kind": "retention" }), wait),
                NewJob::Fsck { rehash, wait } => {
                    (json!({ "kind": "fsck", "rehash": rehash }), wait)
                }
                NewJob::Backup { to, wait } => (json!({ "kind": "backup", "to": to }), wait),
            };
            let job = follow
                .server
                .call(Method::POST, &["jobs"], &[], Some(body))
                .await?;
            let id = job["id"].as_str().unwrap_or_default().to_string();
            if !follow.wait {
                print_answer(&job, follow.json, |j| {
                    println!(
                        "started {id}: `cairn job show {id} --wait` follows it ({})",
                        j["state"].as_str().unwrap_or_default()
                    )
                });
                return Ok(());
            }
            follow_job(&follow, &id).await
        }
        JobCommand::Show { id, wait } => {
            if wait.wait {
                return follow_job(&wait, &id).await;
            }
            let job = wait
                .server
                .call(Method::GET, &["jobs", &id], &[], None)
                .await?;
            print_answer(&job, wait.json, print_job);
            Ok(())
        }
        JobCommand::Cancel { id, server } => {
            server
                .call(Method::DELETE, &["jobs", &id], &[], None)
                .await?;
            super::report(json!({ "id": id, "cancel_requested": true }), || {
                format!("asked {id} to stop at its next safe point")
            });
            Ok(())
        }
    }
}

pub async fn gc_command(cmd: GcCommand) -> anyhow::Result<()> {
    match cmd {
        GcCommand::Status { json, server } => {
            let answer = server.call(Method::GET, &["gc"], &[], None).await?;
            print_answer(&answer, json, |a| {
                for state in ["live", "candidate", "deleting"] {
                    println!(
                        "{state:<10} {:>10} blobs {:>16} bytes",
                        a[state]["blobs"], a[state]["bytes"]
                    );
                }
                let s = &a["settings"];
                println!(
                    "collector: {} every {} s, grace {} s, idle uploads expire after {} s",
                    if s["enabled"] == true { "runs" } else { "off;" },
                    s["interval_secs"],
                    s["grace_secs"],
                    s["upload_ttl_secs"]
                );
            });
            Ok(())
        }
        GcCommand::Run {
            grace_secs,
            json,
            server,
        } => {
            let grace = grace_secs.map(|g| g.to_string());
            let query: Vec<(&str, &str)> =
                grace.iter().map(|g| ("grace_secs", g.as_str())).collect();
            let answer = server.call(Method::POST, &["gc"], &query, None).await?;
            print_answer(&answer, json, |a| println!("{a:#}"));
            Ok(())
        }
    }
}

/// A job's record, for people.
fn print_job(j: &Value) {
    let s = |k: &str| super::client::cell(&j[k]);
    println!("{} ({}): {}", s("id"), s("kind"), s("state"));
    println!("  by {}, started {}", s("actor"), when(&j["started_at"]));
    if !j["finished_at"].is_null() {
        println!("  finished {}", when(&j["finished_at"]));
    }
    if !j["progress"].is_null() && j["state"] == "running" {
        println!("  progress: {}", progress_text(&j["progress"]));
    }
    if !j["result"].is_null() {
        println!("  result: {:#}", j["result"]);
    }
}

/// A job's progress in a line: its step and, when it counts, how far.
fn progress_text(p: &Value) -> String {
    let step = p["step"].as_str().unwrap_or("working");
    match (p["checked"].as_u64(), p["of"].as_u64()) {
        (Some(done), Some(of)) => format!("{step}: {done} of {of}"),
        _ => match p["report"].as_object() {
            Some(r) => {
                let counts: Vec<String> = r
                    .iter()
                    .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                format!("{step} ({})", counts.join(", "))
            }
            None => step.to_string(),
        },
    }
}

/// Follows a job to its end: a bar (when the job counts its work) or a
/// spinner on a terminal, the record printed at the end. Ctrl-C asks the
/// job to stop. Fails when the job did not end `done`.
async fn follow_job(follow: &Follow, id: &str) -> anyhow::Result<()> {
    // A spinner until the job counts its work, then a bar.
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_prefix(id.to_string());
    let counting = super::progress_bar(0, id).style();
    let interrupted = super::gc::cancel_on_interrupt();
    let mut cancel_sent = false;
    let job = loop {
        if interrupted.is_cancelled() && !cancel_sent {
            cancel_sent = true;
            // A job that ended meanwhile answers 409; the loop reads its end.
            let _ = follow
                .server
                .call(Method::DELETE, &["jobs", id], &[], None)
                .await;
        }
        let job = follow
            .server
            .call(Method::GET, &["jobs", id], &[], None)
            .await?;
        if job["state"] != "running" {
            break job;
        }
        let p = &job["progress"];
        match (p["checked"].as_u64(), p["of"].as_u64()) {
            (Some(done), Some(of)) => {
                bar.set_style(counting.clone());
                bar.set_length(of);
                bar.set_position(done);
                bar.set_message(p["step"].as_str().unwrap_or_default().to_string());
            }
            _ => bar.set_message(progress_text(p)),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    bar.finish_and_clear();
    print_answer(&job, follow.json, print_job);
    match job["state"].as_str() {
        Some("done") => Ok(()),
        Some(state) => anyhow::bail!("job {id} is {state}"),
        None => anyhow::bail!("job {id}: no state in the answer"),
    }
}
