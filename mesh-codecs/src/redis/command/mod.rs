//! Command introspection: names, the command table of Redis 7 with arity,
//! flags and key specs, key extraction, and splitting by key.
//!
//! The table ([`commands`]) is what Redis 7.0's `COMMAND` reports, with
//! each command's legacy key positions (first key, last key, step) and its
//! key specs, which also describe commands whose keys move (`EVAL`'s
//! `numkeys`, `XREAD`'s `STREAMS`, `MIGRATE`'s `KEYS`). A test compares it
//! with a real `redis-server` and can regenerate it.
//!
//! Lookups never allocate: names are compared case-insensitively in place.

mod keys;
#[rustfmt::skip]
mod table;

use bytes::Bytes;

use super::frame::Frame;

pub use keys::Keys;

/// One command (or subcommand, such as `config|get`) of the table.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// The lower-case name, with `|` between container and subcommand.
    pub name: &'static str,
    /// The number of arguments, the name included; negative means "at
    /// least that many".
    pub arity: i32,
    /// What the command does, as far as a proxy cares.
    pub flags: CommandFlags,
    /// The first key argument, as `COMMAND` reports it (0: none, or
    /// movable; see [`Command::key_specs`]).
    pub first_key: i32,
    /// The last key argument (negative: counted from the end).
    pub last_key: i32,
    /// The distance between key arguments.
    pub step: i32,
    /// Redis 7 key specs: every way to find the command's keys.
    pub key_specs: &'static [KeySpec],
    /// Subcommands of a container command (`CONFIG`, `CLIENT`, ...).
    pub subcommands: &'static [Command],
}

/// A set of command flags. The names follow `COMMAND`'s flags, except
/// [`CommandFlags::TRANSACTION`], [`CommandFlags::CONNECTION`],
/// [`CommandFlags::SCRIPTING`] and [`CommandFlags::DANGEROUS`], which are
/// ACL categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(u32);

impl CommandFlags {
    /// `readonly`: reads data, never modifies it.
    pub const READ: CommandFlags = CommandFlags(1);
    /// `write`: may modify data.
    pub const WRITE: CommandFlags = CommandFlags(1 << 1);
    /// `blocking`: may block the connection (`BLPOP`, `XREAD BLOCK`).
    pub const BLOCKING: CommandFlags = CommandFlags(1 << 2);
    /// `pubsub`: publish/subscribe.
    pub const PUBSUB: CommandFlags = CommandFlags(1 << 3);
    /// `admin`: administrative (`CONFIG`, `DEBUG`, `SHUTDOWN`).
    pub const ADMIN: CommandFlags = CommandFlags(1 << 4);
    /// `@transaction`: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`.
    pub const TRANSACTION: CommandFlags = CommandFlags(1 << 5);
    /// `movablekeys`: key positions depend on the arguments.
    pub const MOVABLE_KEYS: CommandFlags = CommandFlags(1 << 6);
    /// `fast`: O(1) or O(log N).
    pub const FAST: CommandFlags = CommandFlags(1 << 7);
    /// `noscript`: not allowed in scripts.
    pub const NO_SCRIPT: CommandFlags = CommandFlags(1 << 8);
    /// `denyoom`: may grow memory; refused when out of memory.
    pub const DENY_OOM: CommandFlags = CommandFlags(1 << 9);
    /// `no_multi`: not allowed inside `MULTI`.
    pub const NO_MULTI: CommandFlags = CommandFlags(1 << 10);
    /// `no_auth`: allowed before authentication.
    pub const NO_AUTH: CommandFlags = CommandFlags(1 << 11);
    /// `@connection`: about the connection (`AUTH`, `SELECT`, `HELLO`,
    /// `CLIENT`): a proxy that pools connections must handle these.
    pub const CONNECTION: CommandFlags = CommandFlags(1 << 12);
    /// `@scripting`: Lua scripts and functions.
    pub const SCRIPTING: CommandFlags = CommandFlags(1 << 13);
    /// `@dangerous`: may harm the server (`FLUSHALL`, `KEYS`, `DEBUG`).
    pub const DANGEROUS: CommandFlags = CommandFlags(1 << 14);

    /// No flags.
    pub const fn empty() -> CommandFlags {
        CommandFlags(0)
    }

    /// Both sets.
    pub const fn union(self, other: CommandFlags) -> CommandFlags {
        CommandFlags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: CommandFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for CommandFlags {
    type Output = CommandFlags;
    fn bitor(self, rhs: CommandFlags) -> CommandFlags {
        self.union(rhs)
    }
}

/// One Redis 7 key spec: where to start looking for keys, and how to find
/// them from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Where the search starts.
    pub begin: BeginSearch,
    /// How keys are found from there.
    pub find: FindKeys,
    /// The spec may miss keys (`MIGRATE`'s `KEYS` when a key is named
    /// `KEYS`). Specs that cannot be described at all (`SORT`'s `STORE`)
    /// have [`BeginSearch::Unknown`].
    pub incomplete: bool,
    /// The arguments are not keys but are hashed like keys: sharded
    /// pub/sub channels (`SPUBLISH`, `SSUBSCRIBE`).
    pub not_key: bool,
}

/// Where a key spec's search starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After the first argument equal (case-insensitively) to `keyword`,
    /// searching from argument `start_from` onwards, or backwards from
    /// `argc + start_from` when it is negative.
    Keyword {
        /// The keyword, upper case.
        keyword: &'static str,
        /// Where the search starts.
        start_from: i32,
    },
    /// Cannot be described (`SORT`'s `STORE`): the command must be parsed.
    Unknown,
}

/// How a key spec finds keys from where its search began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `last_key` (relative to the start; negative: counted
    /// from the end of the arguments), every `step` arguments; with
    /// `last_key == -1`, `limit > 1` stops after `1/limit` of the rest.
    Range {
        /// The last key.
        last_key: i32,
        /// The distance between keys.
        step: i32,
        /// The fraction of remaining arguments that may be keys.
        limit: i32,
    },
    /// The argument at `key_num_index` (relative to the start) holds the
    /// number of keys, which start at `first_key` (relative to the start).
    KeyNum {
        /// Where the number of keys is.
        key_num_index: i32,
        /// Where the first key is.
        first_key: i32,
        /// The distance between keys.
        step: i32,
    },
    /// Cannot be described.
    Unknown,
}

/// The arguments of a command, the name first: what key extraction reads.
/// Implemented for slices of anything that is bytes (`&[&str]`,
/// `&[Bytes]`, `&[Vec<u8>]`) and for [`Request`].
pub trait Args {
    /// The number of arguments, the name included.
    fn len(&self) -> usize;
    /// The argument at `index` (0 is the name), if it is a string.
    fn arg(&self, index: usize) -> Option<&[u8]>;
    /// Whether there are no arguments.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: AsRef<[u8]>> Args for [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn arg(&self, index: usize) -> Option<&[u8]> {
        self.get(index).map(AsRef::as_ref)
    }
}

/// A request as clients send it: an array of bulk strings, the command
/// name first. A borrowed view of the decoded [`Frame`], nothing copied.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    args: &'a [Frame],
}

impl<'a> Request<'a> {
    /// Views `frame` as a request: a non-empty array whose elements are
    /// all bulk strings (or simple strings). `None` otherwise.
    pub fn new(frame: &'a Frame) -> Option<Request<'a>> {
        let Frame::Array(args) = frame else {
            return None;
        };
        let strings = args
            .iter()
            .all(|a| matches!(a, Frame::BulkString(_) | Frame::SimpleString(_)));
        (strings && !args.is_empty()).then_some(Request { args })
    }

    /// The command name, as sent (any case).
    pub fn name(&self) -> &'a [u8] {
        self.get(0).unwrap_or_default()
    }

    /// The argument at `index` (0 is the name).
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        match self.args.get(index)? {
            Frame::BulkString(b) | Frame::SimpleString(b) => Some(b),
            _ => None,
        }
    }

    /// The argument at `index` as the `Bytes` it shares with the frame.
    pub fn bytes(&self, index: usize) -> Option<&'a Bytes> {
        match self.args.get(index)? {
            Frame::BulkString(b) | Frame::SimpleString(b) => Some(b),
            _ => None,
        }
    }

    /// The number of arguments, the name included.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Never true: a request has a name.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The command (or subcommand, for containers such as `CONFIG GET`)
    /// from the table.
    pub fn command(&self) -> Option<&'static Command> {
        lookup(self)
    }

    /// Whether the name is `name`, ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
}

impl Args for Request<'_> {
    fn len(&self) -> usize {
        self.args.len()
    }
    fn arg(&self, index: usize) -> Option<&[u8]> {
        self.get(index)
    }
}

/// The command (or the subcommand of a container) `args` invoke.
pub(crate) fn lookup<A: Args + ?Sized>(args: &A) -> Option<&'static Command> {
    let top = command(args.arg(0)?)?;
    if top.subcommands.is_empty() {
        return Some(top);
    }
    Some(
        args.arg(1)
            .and_then(|sub| top.subcommand(sub))
            .unwrap_or(top),
    )
}

/// Every command of the table, sorted by name.
pub fn commands() -> &'static [Command] {
    table::COMMANDS
}

/// The command named `name`, ignoring case, without allocating.
///
/// ```
/// use mesh_codecs::redis::{command, CommandFlags};
///
/// let mget = command(b"mGeT").unwrap();
/// assert_eq!((mget.first_key, mget.last_key, mget.step), (1, -1, 1));
/// assert!(mget.flags.contains(CommandFlags::READ));
/// assert!(command(b"nope").is_none());
/// ```
pub fn command(name: &[u8]) -> Option<&'static Command> {
    find(table::COMMANDS, name, 0)
}

fn find(table: &'static [Command], name: &[u8], skip: usize) -> Option<&'static Command> {
    table
        .binary_search_by(|c| cmp_lower(&c.name.as_bytes()[skip..], name))
        .ok()
        .map(|i| &table[i])
}

/// Compares a lower-case table name with `name` in any case.
fn cmp_lower(table_name: &[u8], name: &[u8]) -> std::cmp::Ordering {
    let common = table_name.len().min(name.len());
    for i in 0..common {
        let (a, b) = (table_name[i], name[i].to_ascii_lowercase());
        if a != b {
            return a.cmp(&b);
        }
    }
    table_name.len().cmp(&name.len())
}

impl Command {
    /// The subcommand `name` of this container (`GET` of `CONFIG`).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Command> {
        find(self.subcommands, name, self.name.len() + 1)
    }

    /// Whether the command only reads.
    pub fn is_read(&self) -> bool {
        self.flags.contains(CommandFlags::READ)
    }

    /// Whether the command may write.
    pub fn is_write(&self) -> bool {
        self.flags.contains(CommandFlags::WRITE)
    }

    /// Whether the command may block the connection.
    pub fn is_blocking(&self) -> bool {
        self.flags.contains(CommandFlags::BLOCKING)
    }

    /// Whether `args` has an acceptable number of arguments.
    pub fn arity_ok<A: Args + ?Sized>(&self, args: &A) -> bool {
        let n = args.len() as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 { n == arity } else { n >= -arity }
    }

    /// The keys of `args`, found with the key specs the way Redis's
    /// `COMMAND GETKEYS` does. Specs that cannot be described (`SORT`'s
    /// `STORE`) and shard channels are skipped; a spec whose positions
    /// fall outside `args` yields nothing.
    pub fn keys<'a, A: Args + ?Sized>(&'static self, args: &'a A) -> Keys<'a, A> {
        Keys::new(self, args, false)
    }

    /// [`Command::keys`] plus sharded pub/sub channels: every argument
    /// Redis Cluster hashes to route the command.
    pub fn routing_keys<'a, A: Args + ?Sized>(&'static self, args: &'a A) -> Keys<'a, A> {
        Keys::new(self, args, true)
    }

    /// How a proxy may split this command by key and merge the replies;
    /// `None` when it must go to one node whole.
    pub fn split_reply(&self) -> Option<SplitReply> {
        match self.name {
            "mget" => Some(SplitReply::Concat),
            "mset" => Some(SplitReply::AllOk),
            "del" | "exists" | "touch" | "unlink" => Some(SplitReply::Sum),
            _ => None,
        }
    }

    /// Splits a splittable request into one request per key (per key and
    /// value for `MSET`), in order; `None` when the command is not
    /// splittable or the arguments do not fit it. Merge the replies with
    /// [`SplitReply::merge`] in the same order.
    pub fn split(&'static self, request: &Request<'_>) -> Option<Vec<Frame>> {
        self.split_reply()?;
        if !self.arity_ok(request) {
            return None;
        }
        let per = if self.name == "mset" { 2 } else { 1 };
        if (request.len() - 1) % per != 0 {
            return None;
        }
        let name = request.bytes(0)?;
        request.args[1..]
            .chunks(per)
            .map(|chunk| {
                let mut parts = Vec::with_capacity(1 + per);
                parts.push(Frame::BulkString(name.clone()));
                for arg in chunk {
                    let (Frame::BulkString(b) | Frame::SimpleString(b)) = arg else {
                        return None;
                    };
                    parts.push(Frame::BulkString(b.clone()));
                }
                Some(Frame::Array(parts))
            })
            .collect()
    }
}

/// How the replies of a split command are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitReply {
    /// `MGET`: the one-element arrays, concatenated in request order.
    Concat,
    /// `MSET`: `OK` once every part said `OK`.
    AllOk,
    /// `DEL`, `EXISTS`, `TOUCH`, `UNLINK`: the sum of the integers.
    Sum,
}

impl SplitReply {
    /// Merges the replies of the parts, in request order. The first error
    /// reply (or a reply of an unexpected type, as an error) is the result.
    ///
    /// ```
    /// use mesh_codecs::redis::{command, Frame, Request, SplitReply};
    ///
    /// let del = Frame::command(["DEL", "a", "b"]);
    /// let parts = command(b"del").unwrap().split(&Request::new(&del).unwrap()).unwrap();
    /// assert_eq!(parts, [Frame::command(["DEL", "a"]), Frame::command(["DEL", "b"])]);
    /// let merged = SplitReply::Sum.merge([Frame::Integer(1), Frame::Integer(0)]);
    /// assert_eq!(merged, Frame::Integer(1));
    /// ```
    pub fn merge<I: IntoIterator<Item = Frame>>(self, replies: I) -> Frame {
        let unexpected = |f: &Frame| {
            Frame::Error(Bytes::from(format!(
                "ERR unexpected {} in a split command's reply",
                f.type_name()
            )))
        };
        match self {
            SplitReply::Concat => {
                let mut out = Vec::new();
                for reply in replies {
                    match reply {
                        Frame::Array(items) => out.extend(items),
                        e if e.is_error() => return e,
                        other => return unexpected(&other),
                    }
                }
                Frame::Array(out)
            }
            SplitReply::AllOk => {
                for reply in replies {
                    match reply {
                        Frame::SimpleString(_) => {}
                        e if e.is_error() => return e,
                        other => return unexpected(&other),
                    }
                }
                Frame::SimpleString(Bytes::from_static(b"OK"))
            }
            SplitReply::Sum => {
                let mut sum: i64 = 0;
                for reply in replies {
                    match reply {
                        Frame::Integer(n) => sum = sum.saturating_add(n),
                        e if e.is_error() => return e,
                        other => return unexpected(&other),
                    }
                }
                Frame::Integer(sum)
            }
        }
    }
}
