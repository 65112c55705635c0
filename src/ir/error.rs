//! `CompileError`: why a function (or one specialization of it) is not compiled, in one
//! sentence with its line. Every stage returns it; the report shows it.

/// Why a function (or one specialization of it) cannot be compiled: one sentence and a line.
#[derive(Clone, Debug)]
pub struct CompileError {
    pub msg: String,
    pub line: u32,
}

impl CompileError {
    /// A reason, in plain words (`a int` becomes `an int`), for the report.
    pub fn new(msg: impl Into<String>, line: u32) -> Self {
        CompileError { msg: with_articles(&msg.into()), line }
    }
}

/// `a` before a word that starts with a vowel sound becomes `an` (type names are put after
/// `a` in messages: "a int", "a int8 array").
fn with_articles(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 4);
    let mut rest = msg;
    while let Some(i) = rest.find("a int") {
        let at_word = i == 0 || rest[..i].ends_with([' ', '(', '`']);
        out.push_str(&rest[..i]);
        out.push_str(if at_word { "an int" } else { "a int" });
        rest = &rest[i + 5..];
    }
    out.push_str(rest);
    out
}

pub type CResult<T> = Result<T, CompileError>;
