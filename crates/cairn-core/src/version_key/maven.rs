//! Maven's `ComparableVersion` (maven-artifact 3.9), rewritten from its
//! documented rules: items split at `.`, `-` and every change between
//! digits and letters; a `-`, a change from digits to letters and a
//! qualifier after `.` each open a sub-list; trailing "null" items (`0`,
//! `ga`/`final`/`release`/empty, empty lists) are dropped from each list;
//! `a1`/`b1`/`m1` mean alpha/beta/milestone; `cr` means `rc`.
//!
//! At one position the kinds order string < list < number, and a list that
//! has ended compares with the other's item as Maven compares an item with
//! `null`: known qualifiers before the release (alpha … snapshot) and lists
//! that start with one sort below the end, `sp`, unknown qualifiers, other
//! lists and numbers above it. The tags in the key are, in that order:
//!
//! | tag  | item                                             |
//! |------|--------------------------------------------------|
//! | 0x01 | qualifier alpha, beta, milestone, rc, snapshot (then its rank) |
//! | 0x02 | a list that compares below `null`                |
//! | 0x03 | the end of a list                                |
//! | 0x04 | the empty qualifier, in the middle of a list     |
//! | 0x05 | `sp` (0x00), or an unknown qualifier (0x01, text) |
//! | 0x06 | any other list                                   |
//! | 0x07 | a number                                         |
//!
//! Maven's own comparison is not transitive in a few contrived corners (a
//! bare qualifier after a dot, like `1.sp.1`, against a list at the same
//! position): there the key follows the list's side. Such versions do not
//! occur in practice; the corpus test covers the forms that do.

use super::KeyWriter;

#[derive(Debug)]
enum Item {
    /// Digits without leading zeros ("" is zero).
    Number(String),
    Qualifier(String),
    List(Vec<Item>),
}

const KNOWN: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: usize = 5;

impl Item {
    fn number(digits: &str) -> Item {
        Item::Number(digits.trim_start_matches('0').to_string())
    }

    fn qualifier(text: &str, followed_by_digit: bool) -> Item {
        let text = match (followed_by_digit, text) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, other) => other,
        };
        Item::Qualifier(text.to_string())
    }

    /// Known qualifiers by rank; unknown ones after all of them.
    fn rank(text: &str) -> usize {
        KNOWN.iter().position(|k| *k == text).unwrap_or(KNOWN.len())
    }

    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n.is_empty(),
            Item::Qualifier(q) => Item::rank(q) == RELEASE,
            Item::List(items) => items.is_empty(),
        }
    }

    /// How this item compares with a list that has ended (Maven's
    /// `compareTo(null)`).
    fn against_end(&self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match self {
            Item::Number(n) if n.is_empty() => Ordering::Equal,
            Item::Number(_) => Ordering::Greater,
            Item::Qualifier(q) => Item::rank(q).cmp(&RELEASE),
            Item::List(items) => items
                .iter()
                .map(Item::against_end)
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn write(&self, key: &mut KeyWriter) -> Result<(), String> {
        match self {
            Item::Number(n) => {
                key.tag(0x07);
                key.number(n)
            }
            Item::Qualifier(q) => {
                match Item::rank(q) {
                    r if r < RELEASE => {
                        key.tag(0x01);
                        key.tag(r as u8);
                    }
                    RELEASE => key.tag(0x04),
                    r if r == RELEASE + 1 => {
                        key.tag(0x05);
                        key.tag(0x00);
                    }
                    _ => {
                        key.tag(0x05);
                        key.tag(0x01);
                        key.text(q)?;
                    }
                }
                Ok(())
            }
            Item::List(items) => {
                key.tag(if self.against_end().is_lt() {
                    0x02
                } else {
                    0x06
                });
                write_list(items, key)
            }
        }
    }
}

fn write_list(items: &[Item], key: &mut KeyWriter) -> Result<(), String> {
    for item in items {
        item.write(key)?;
    }
    key.tag(0x03);
    Ok(())
}

/// Drops trailing null items, looking past lists (Maven's `normalize`).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Parses like `ComparableVersion.parseVersion`. Each new list is the last
/// item of the list before it, so the lists are kept as a stack and folded
/// into each other at the end, innermost first.
fn parse(version: &str) -> Vec<Item> {
    let chars: Vec<char> = version.to_lowercase().chars().collect();
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let item = |digits: bool, s: String| {
        if digits {
            Item::number(&s)
        } else {
            Item::qualifier(&s, false)
        }
    };
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut digits = false;
    let mut start = 0;
    for (i, &c) in chars.iter().enumerate() {
        let current = stack.len() - 1;
        match c {
            '.' | '-' => {
                let next = if i == start {
                    Item::Number(String::new())
                } else {
                    item(digits, text(start, i))
                };
                stack[current].push(next);
                start = i + 1;
                if c == '-' {
                    stack.push(Vec::new());
                }
            }
            c if c.is_ascii_digit() => {
                if !digits && i > start {
                    if !stack[current].is_empty() {
                        stack.push(Vec::new());
                    }
                    let top = stack.len() - 1;
                    stack[top].push(Item::qualifier(&text(start, i), true));
                    start = i;
                    stack.push(Vec::new());
                }
                digits = true;
            }
            _ => {
                if digits && i > start {
                    stack[current].push(Item::number(&text(start, i)));
                    start = i;
                    stack.push(Vec::new());
                }
                digits = false;
            }
        }
    }
    if chars.len() > start {
        if !digits && !stack[stack.len() - 1].is_empty() {
            stack.push(Vec::new());
        }
        let last = item(digits, text(start, chars.len()));
        stack.last_mut().expect("the root list").push(last);
    }
    let mut inner = stack.pop().expect("the root list");
    normalize(&mut inner);
    while let Some(mut parent) = stack.pop() {
        parent.push(Item::List(inner));
        normalize(&mut parent);
        inner = parent;
    }
    inner
}

pub(super) fn write(key: &mut KeyWriter, version: &str) -> Result<(), String> {
    if version.is_empty() || version.chars().any(char::is_control) {
        return Err("empty, or has control characters".into());
    }
    write_list(&parse(version), key)
}
