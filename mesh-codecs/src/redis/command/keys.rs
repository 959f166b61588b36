//! Key extraction with Redis 7 key specs, as `COMMAND GETKEYS` does it.

use super::{Args, BeginSearch, Command, FindKeys, KeySpec};

/// The keys of one command's arguments, in the order of its key specs;
/// see [`Command::keys`].
#[derive(Debug)]
pub struct Keys<'a, A: ?Sized> {
    specs: std::slice::Iter<'static, KeySpec>,
    args: &'a A,
    include_not_keys: bool,
    /// An argument that is a placeholder when empty, not a key: `MIGRATE`'s
    /// key argument, left empty when the `KEYS` option lists the keys.
    placeholder: Option<usize>,
    /// The current spec's range: next index, last index, step.
    next: i64,
    last: i64,
    step: i64,
}

impl<'a, A: Args + ?Sized> Keys<'a, A> {
    pub(super) fn new(command: &'static Command, args: &'a A, include_not_keys: bool) -> Self {
        Keys {
            specs: command.key_specs.iter(),
            args,
            include_not_keys,
            placeholder: (command.name == "migrate").then_some(3),
            next: 1,
            last: 0,
            step: 1,
        }
    }

    /// The positions of the keys in the arguments instead of the keys.
    pub fn positions(self) -> impl Iterator<Item = usize> + 'a
    where
        A: 'a,
    {
        Positions(self)
    }

    fn next_position(&mut self) -> Option<usize> {
        loop {
            if self.next <= self.last {
                let i = self.next;
                self.next = self.next.saturating_add(self.step);
                let i = usize::try_from(i).ok()?;
                if Some(i) == self.placeholder && self.args.arg(i).is_some_and(<[u8]>::is_empty) {
                    continue;
                }
                return Some(i);
            }
            let spec = self.specs.next()?;
            if spec.not_key && !self.include_not_keys {
                continue;
            }
            if let Some((first, last, step)) = range(spec, self.args) {
                self.next = first;
                self.last = last;
                self.step = step.max(1);
            }
        }
    }
}

impl<'a, A: Args + ?Sized> Iterator for Keys<'a, A> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let i = self.next_position()?;
            if let Some(key) = self.args.arg(i) {
                return Some(key);
            }
        }
    }
}

struct Positions<'a, A: ?Sized>(Keys<'a, A>);

impl<A: Args + ?Sized> Iterator for Positions<'_, A> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        self.0.next_position()
    }
}

/// The first, last and step of one spec over `args`, or `None` when the
/// spec finds nothing there (keyword absent, positions out of range,
/// unknown spec).
fn range<A: Args + ?Sized>(spec: &KeySpec, args: &A) -> Option<(i64, i64, i64)> {
    let argc = args.len() as i64;
    let mut first = match spec.begin {
        BeginSearch::Index(i) => i64::from(i),
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => keyword_position(args, keyword, i64::from(start_from))? + 1,
        BeginSearch::Unknown => return None,
    };
    let (last, step) = match spec.find {
        FindKeys::Range {
            last_key,
            step,
            limit,
        } => {
            let last_key = i64::from(last_key);
            let last = if last_key >= 0 {
                first + last_key
            } else if limit == 0 {
                argc + last_key
            } else {
                first + ((argc - first) / i64::from(limit) + last_key)
            };
            (last, i64::from(step))
        }
        FindKeys::KeyNum {
            key_num_index,
            first_key,
            step,
        } => {
            let at = usize::try_from(first + i64::from(key_num_index)).ok()?;
            let numkeys = strict_i64(args.arg(at)?)?;
            if numkeys < 0 {
                return None;
            }
            first += i64::from(first_key);
            (first.checked_add(numkeys)? - 1, i64::from(step))
        }
        FindKeys::Unknown => return None,
    };
    if last >= argc || last < first || first >= argc || first < 1 {
        return None;
    }
    Some((first, last, step))
}

/// Redis's keyword search: forwards from `start_from`, or backwards from
/// `argc + start_from` when it is not positive, never reaching the end
/// index (the last argument, or argument 1).
fn keyword_position<A: Args + ?Sized>(args: &A, keyword: &str, start_from: i64) -> Option<i64> {
    let argc = args.len() as i64;
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let forward = start <= end;
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        let arg = usize::try_from(i).ok().and_then(|i| args.arg(i));
        if arg.is_some_and(|a| a.eq_ignore_ascii_case(keyword.as_bytes())) {
            return Some(i);
        }
        i = if forward { i + 1 } else { i - 1 };
    }
    None
}

/// Redis's `string2ll`: an optional `-`, digits, no leading zero, no `+`.
fn strict_i64(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty() || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    std::str::from_utf8(s)
        .ok()?
        .parse()
        .ok()
        .filter(|_| s[0] != b'+')
}
