//! A check of the lengths in a DER document, before it reaches a decoder that allocates what a length says.
//!
//! The `der` crate (0.7) allocates a buffer of an element's declared length before it reads the element, so a
//! certificate of 200 bytes that declares a 250 MB field gets 250 MB allocated (zeroed) for it before the
//! decoder finds the input too short. Certificates come from anyone (a notification's x5c, a file uploaded as a
//! key), so every such document is checked here first: every length, at every level, must fit inside its parent.
//! The fuzz campaigns found this (docs/fuzzing.md).

/// Deeper than any certificate or key nests (a certificate's deepest field is about 8 levels down); deeper input
/// is refused rather than walked, so the walk's stack stays small.
const MAX_DEPTH: usize = 32;

/// True when the first element of `der` and everything inside its constructed elements has lengths that fit in
/// the input: short or long definite form, at most four length bytes. Bytes after the first element are not
/// looked at (decoders refuse them). Primitive contents (an OCTET STRING that holds more DER) are not entered:
/// the decoders that read those borrow them.
pub fn der_lengths_fit(der: &[u8]) -> bool {
    match element(der) {
        Some((constructed, header, len)) => {
            constructed_fits(constructed, &der[header..header + len], 0)
        }
        None => false,
    }
}

fn constructed_fits(constructed: bool, content: &[u8], depth: usize) -> bool {
    if !constructed {
        return true;
    }
    if depth >= MAX_DEPTH {
        return false;
    }
    let mut rest = content;
    while !rest.is_empty() {
        let Some((inner, header, len)) = element(rest) else {
            return false;
        };
        if !constructed_fits(inner, &rest[header..header + len], depth + 1) {
            return false;
        }
        rest = &rest[header + len..];
    }
    true
}

/// The element at the start of `input`: whether it is constructed, the length of its tag and length bytes, and
/// its content's length, which is known to fit in `input`.
fn element(input: &[u8]) -> Option<(bool, usize, usize)> {
    let tag = *input.first()?;
    let mut at = 1;
    if tag & 0x1f == 0x1f {
        // High tag number: base-128 continuation bytes; four are far more than any real tag.
        loop {
            let b = *input.get(at)?;
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
            if at > 5 {
                return None;
            }
        }
    }
    let first = *input.get(at)?;
    at += 1;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        // 0x80 is BER's indefinite length, which DER forbids; more than four bytes is over 4 GiB.
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..count {
            len = (len << 8) | usize::from(*input.get(at)?);
            at += 1;
        }
        len
    };
    (len <= input.len() - at).then_some((tag & 0x20 != 0, at, len))
}

#[cfg(test)]
mod tests {
    use super::der_lengths_fit;

    #[test]
    fn well_formed_nesting_fits() {
        // SEQUENCE { INTEGER 5, SEQUENCE { OCTET STRING "ab" }, [1] { BOOLEAN true } }
        let der = [
            0x30, 0x0e, 0x02, 0x01, 0x05, 0x30, 0x04, 0x04, 0x02, b'a', b'b', 0xa1, 0x03, 0x01,
            0x01, 0xff,
        ];
        assert!(der_lengths_fit(&der));
        // Long form lengths.
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0x05, 128).flat_map(|_| [0x05, 0x00]));
        assert!(der_lengths_fit(&long));
        // Bytes after the first element are not the check's business.
        assert!(der_lengths_fit(&[0x05, 0x00, 0xff, 0xff]));
    }

    #[test]
    fn a_length_past_the_end_at_any_depth_does_not_fit() {
        assert!(!der_lengths_fit(&[0x30, 0x03, 0x02, 0x01]));
        // An OCTET STRING inside that claims 33,575,096 bytes in 5 (the shape the fuzzer found).
        assert!(!der_lengths_fit(&[
            0x30, 0x07, 0x04, 0x84, 0x02, 0x00, 0x50, 0xb8, 0x00
        ]));
        assert!(!der_lengths_fit(&[
            0x30, 0x05, 0x30, 0x03, 0x02, 0x05, 0x00
        ]));
        // Indefinite length, five length bytes, nothing at all.
        assert!(!der_lengths_fit(&[0x30, 0x80, 0x00, 0x00]));
        assert!(!der_lengths_fit(&[0x04, 0x85, 0, 0, 0, 0, 1, 0]));
        assert!(!der_lengths_fit(&[]));
        assert!(!der_lengths_fit(&[0x30]));
    }

    #[test]
    fn nesting_deeper_than_any_certificate_is_refused() {
        let nested = |depth: usize| {
            let mut der = vec![0x05, 0x00];
            for _ in 0..depth {
                let len = u8::try_from(der.len()).unwrap();
                der.splice(0..0, [0x30, len]);
            }
            der
        };
        assert!(der_lengths_fit(&nested(20)));
        assert!(!der_lengths_fit(&nested(40)));
    }
}
