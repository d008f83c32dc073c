//! The broken-input corpus (tests/fixtures/broken/corpus, made by
//! tests/scripts/make_broken_corpus.py): every case through the `medburn` binary must exit with
//! its code, say one line on stderr holding its text, and leave no output behind.

use std::path::PathBuf;
use std::process::Command;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/broken/corpus")
}

#[test]
fn every_broken_input_is_refused_with_one_line_and_no_output() {
    let text = std::fs::read_to_string(corpus().join("cases.json")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 19, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let out = tempfile::tempdir().unwrap();
        let args: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{corpus}", corpus().to_str().unwrap())
                    .replace("{out}", out.path().to_str().unwrap())
            })
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_medburn"))
            .args(&args)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        let want_code = case["exit"].as_i64().unwrap() as i32;
        let want_text = case["stderr"].as_str().unwrap();
        let mut problems = Vec::new();
        if o.status.code() != Some(want_code) {
            problems.push(format!("exit {:?}, want {want_code}", o.status.code()));
        }
        if !stderr.contains(want_text) {
            problems.push(format!("stderr lacks {want_text:?}"));
        }
        // clap's usage errors end with a hint line; medburn's own errors are one line.
        let lines = stderr
            .trim()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        if want_code == 1 && lines != 1 {
            problems.push(format!("{lines} lines on stderr"));
        }
        if let Some(output) = case["output"].as_str() {
            if out.path().join(output).exists() {
                problems.push(format!("{output} was written"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name}: {} -- {}",
                problems.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
