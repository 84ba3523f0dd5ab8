//! Encodings: ConvertToBase64 (of the UTF-16LE bytes, like the reference)
//! and ConvertToUTF8Hex (upper-case hex of the UTF-8 bytes).

use base64::Engine as _;

use super::text::map_text;
use super::Args;
use crate::expr::error::EvalError;
use crate::value::Value;

/// `ConvertToBase64(source)`: Base64 of the string's UTF-16LE bytes
/// (`"Hello world!"` → `"SABlAGwAbABvACAAdwBvAHIAbABkACEA"`), per value.
/// Null gives null.
pub(crate) fn convert_to_base64(a: &Args) -> Result<Value, EvalError> {
    map_text(a, |s| {
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    })
}

/// `ConvertToUTF8Hex(source)`: upper-case hex of the UTF-8 bytes
/// (`"Hello world!"` → `"48656C6C6F20776F726C6421"`), per value. Null gives
/// null.
pub(crate) fn convert_to_utf8_hex(a: &Args) -> Result<Value, EvalError> {
    map_text(a, |s| {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = String::with_capacity(s.len() * 2);
        for b in s.bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        Ok(out)
    })
}
