//! The static table (RFC 7541 Appendix A).

use super::words::{self, Words};

/// The 61 entries of the static table; index `i` (1-based) is `RAW[i - 1]`.
const RAW: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The number of static entries: dynamic indices start after it.
pub(super) const LEN: usize = RAW.len();

/// The static entry at 1-based `index`. The decoder hands entries out as
/// `Bytes::from_static`, which costs no indirect call, unlike cloning a
/// `Bytes`.
#[inline]
pub(super) fn raw(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    RAW.get(index.wrapping_sub(1)).copied()
}

/// A perfect hash of the 52 distinct static names (found by a search over
/// small multipliers): the length, the first, fifth (or last) and last
/// bytes, mixed and cut to 7 bits. `NAME_SLOTS` is built at compile time
/// and the build fails if two names ever share a slot.
#[inline]
const fn slot(name: &[u8]) -> usize {
    let n = name.len();
    let mid = if n > 4 { 4 } else { n - 1 };
    (n * 4 + name[n - 1] as usize * 30 + name[mid] as usize + name[0] as usize * 21) & 127
}

/// For each slot, the first static index of the name hashed there (0: none).
const NAME_SLOTS: [u8; 128] = {
    let mut slots = [0u8; 128];
    let mut i = 0;
    while i < LEN {
        let s = slot(RAW[i].0);
        if slots[s] == 0 {
            slots[s] = i as u8 + 1;
        } else {
            let first = slots[s] as usize - 1;
            // Only entries sharing a name may share a slot.
            assert!(
                RAW[first].0.len() == RAW[i].0.len(),
                "static name hash collision"
            );
        }
        i += 1;
    }
    slots
};

/// Every static name and value read as [`Words`], and for each index the
/// index after the last entry with the same name (entries sharing a name
/// are adjacent).
struct Read {
    names: [Words; LEN],
    values: [Words; LEN],
    name_end: [u8; LEN],
}

static READ: Read = {
    let mut r = Read {
        names: [Words { len: 0, a: 0, b: 0 }; LEN],
        values: [Words { len: 0, a: 0, b: 0 }; LEN],
        name_end: [0; LEN],
    };
    let mut i = 0;
    while i < LEN {
        r.names[i] = Words::of(RAW[i].0);
        r.values[i] = Words::of(RAW[i].1);
        // Values are compared by their words alone.
        assert!(RAW[i].1.len() <= words::EXACT, "static value too long");
        i += 1;
    }
    let mut i = LEN;
    while i > 0 {
        i -= 1;
        let same_as_next = i + 1 < LEN && RAW[i].0.len() == RAW[i + 1].0.len() && {
            let (a, b) = (RAW[i].0, RAW[i + 1].0);
            let mut k = 0;
            while k < a.len() && a[k] == b[k] {
                k += 1;
            }
            k == a.len()
        };
        r.name_end[i] = if same_as_next {
            r.name_end[i + 1]
        } else {
            i as u8 + 2
        };
    }
    r
};

/// The first static index with this name.
#[inline]
fn name_index(name: &[u8], nw: &Words) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let i = usize::from(NAME_SLOTS[slot(name)]);
    let first = i.checked_sub(1)?;
    READ.names[first].same(RAW[first].0, nw, name).then_some(i)
}

/// What the static table offers for a field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Match {
    /// The first index with the field's name.
    pub(super) name: Option<usize>,
    /// The index with the field's name and value.
    pub(super) field: Option<usize>,
}

/// Looks `name: value` up (`nw` and `vw` are their [`Words`]): one hash
/// probe for the name, then a comparison of words with the values of the
/// few entries that share it.
#[inline]
pub(super) fn find(name: &[u8], nw: &Words, vw: &Words) -> Match {
    let Some(first) = name_index(name, nw) else {
        return Match {
            name: None,
            field: None,
        };
    };
    let end = usize::from(READ.name_end[first - 1]);
    let field = (first..end).find(|&i| READ.values.get(i - 1) == Some(vw));
    Match {
        name: Some(first),
        field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(name: &[u8], value: &[u8]) -> Match {
        super::find(name, &Words::of(name), &Words::of(value))
    }

    #[test]
    fn lookups() {
        let m = |name, field| Match { name, field };
        assert_eq!(find(b":method", b"POST"), m(Some(2), Some(3)));
        assert_eq!(find(b":method", b"PUT"), m(Some(2), None));
        assert_eq!(find(b":status", b"500"), m(Some(8), Some(14)));
        assert_eq!(find(b"accept-charset", b""), m(Some(15), Some(15)));
        assert_eq!(find(b"www-authenticate", b"x"), m(Some(61), None));
        assert_eq!(find(b"x-custom", b""), m(None, None));
        assert_eq!(find(b"", b""), m(None, None));
        assert_eq!(find(b"a", b""), m(None, None));
        for (i, (n, v)) in RAW.iter().enumerate() {
            let found = find(n, v);
            assert_eq!(found.field, Some(i + 1));
            assert_eq!(RAW[found.name.unwrap() - 1].0, *n);
            assert_eq!(raw(i + 1), Some((*n, *v)));
        }
        assert_eq!(raw(0), None);
        assert_eq!(raw(62), None);
    }
}
