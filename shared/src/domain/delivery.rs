//! How a presigned URL delivers its object: a file name to download it as, and the media type
//! to serve it with. Both end up as response headers S3 sends because the URL says so
//! (`response-content-disposition`, `response-content-type`), inside the signature, so they are
//! parsed here into values that can only make a well-formed header.

use crate::domain::input::quoted;
use std::fmt;

/// The longest `download_as`, in characters (file systems allow 255 bytes; a name is cut by the
/// browser, never by us).
pub const MAX_DOWNLOAD_NAME_CHARS: usize = 255;
/// The longest `content_type`.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;

/// A file name to save the object as: the `Content-Disposition` value it makes is
/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<RFC 5987 encoding>`.
#[derive(Clone, PartialEq, Eq)]
pub struct DownloadName {
    name: String,
    header: String,
}

impl DownloadName {
    /// 1 to [`MAX_DOWNLOAD_NAME_CHARS`] characters, no control characters. Unicode, quotes and
    /// semicolons are fine: they are encoded, never pasted into the header as they are.
    pub fn parse(value: &str) -> Result<Self, String> {
        let name = value.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err(
                "\"download_as\" is empty; give the file name to save as, such as \"cat.png\".".into()
            );
        }
        if chars > MAX_DOWNLOAD_NAME_CHARS {
            return Err(format!(
                "\"download_as\" has {chars} characters; use at most {MAX_DOWNLOAD_NAME_CHARS}."
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(format!(
                "\"download_as\" {} contains a control character (such as a newline); use a plain file name.",
                quoted(name)
            ));
        }
        Ok(Self { header: content_disposition(name), name: name.to_owned() })
    }

    /// The file name, as given (trimmed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Content-Disposition` header value.
    pub fn header(&self) -> &str {
        &self.header
    }
}

impl fmt::Debug for DownloadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DownloadName({})", self.header)
    }
}

/// RFC 6266: `attachment`, an ASCII `filename` for old clients (anything outside printable ASCII,
/// and `"`, `\` and `%`, become `_`), and `filename*` with the name itself in UTF-8, percent-encoded
/// as RFC 5987 allows (`attr-char` kept).
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' { c } else { '_' })
        .collect();
    let mut header = format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''");
    for byte in name.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte);
        if keep {
            header.push(char::from(byte));
        } else {
            header.push_str(&format!("%{byte:02X}"));
        }
    }
    header
}

/// A media type to serve the object as (`type/subtype`, parameters allowed, no wildcards).
#[derive(Clone, PartialEq, Eq)]
pub struct MediaType(String);

impl MediaType {
    pub fn parse(value: &str) -> Result<Self, String> {
        let text = value.trim();
        let wrong = || {
            format!(
                "\"content_type\" {} is not a media type; send one such as \"video/mp4\" or \"text/plain; charset=utf-8\".",
                quoted(text)
            )
        };
        if text.is_empty()
            || text.len() > MAX_CONTENT_TYPE_BYTES
            || !text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(wrong());
        }
        let parsed: mime::Mime = text.parse().map_err(|_| wrong())?;
        if parsed.type_() == mime::STAR || parsed.subtype() == mime::STAR {
            return Err(wrong());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaType({})", self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_name_downloads_as_itself() {
        assert_eq!(
            DownloadName::parse("cat.png").unwrap().header(),
            "attachment; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
    }

    #[test]
    fn unicode_quotes_and_semicolons_are_encoded_never_pasted_into_the_header() {
        let header = DownloadName::parse("Ünïcødé \"report\"; v2 😀.pdf").unwrap().header().to_owned();
        assert_eq!(
            header,
            "attachment; filename=\"_n_c_d_ _report_; v2 _.pdf\"; \
             filename*=UTF-8''%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20%22report%22%3B%20v2%20%F0%9F%98%80.pdf"
        );
        let (_, encoded) = header.split_once("filename*=UTF-8''").unwrap();
        assert!(!encoded.contains(['"', ';', ' ']), "{encoded}");
        let fallback = header.split('"').nth(1).unwrap();
        assert!(fallback.is_ascii() && !fallback.contains('"'), "{fallback}");
    }

    #[test]
    fn an_empty_or_too_long_name_or_one_with_a_control_character_is_refused() {
        for bad in ["", "   ", "a\r\nSet-Cookie: x=1", "tab\there"] {
            assert!(DownloadName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DownloadName::parse(&"é".repeat(255)).is_ok());
        assert!(DownloadName::parse(&"é".repeat(256)).is_err());
    }

    #[test]
    fn media_types_are_checked_and_wildcards_and_header_injection_refused() {
        for good in ["video/mp4", "image/png", "text/plain; charset=utf-8", "application/vnd.api+json"] {
            assert_eq!(MediaType::parse(good).unwrap().as_str(), good);
        }
        for bad in ["video", "*/*", "video/*", "text/plain\r\nX: y", "", "a/b/c", "vid eo/mp4"] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?}");
        }
    }
}
