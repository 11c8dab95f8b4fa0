//! Device information captured when a session is created (docs/endpoints.md#device-information).
//!
//! The device name is derived from the `User-Agent` with case-insensitive substring tests (first matching
//! row wins); values are truncated to their column limits and never rejected.

use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;

/// Maximum `device_name` length, in characters.
pub const MAX_DEVICE_NAME: usize = 255;
/// Maximum `device_id` length, in characters.
pub const MAX_DEVICE_ID: usize = 255;
/// Maximum `ip_address` length, in characters.
pub const MAX_IP_ADDRESS: usize = 45;
/// Maximum stored `user_agent` length, in characters.
pub const MAX_USER_AGENT: usize = 500;

/// Name used when nothing can be derived from the User-Agent.
const UNKNOWN_DEVICE: &str = "Unknown device";

/// Android model pattern; `None` only if it failed to compile (then no model is ever found).
static ANDROID_MODEL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)android[^;)]*;\s*([^;)]+?)\s+build").ok());

/// Derives the human-readable device name from a `User-Agent` (docs/endpoints.md#device-information).
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.is_empty()) else {
        return UNKNOWN_DEVICE.to_owned();
    };
    let lower = ua.to_lowercase();
    let has = |needle: &str| lower.contains(needle);

    if has("iphone") {
        return "iPhone".to_owned();
    }
    if has("ipad") {
        return "iPad".to_owned();
    }
    if has("android") {
        return match android_model(ua) {
            Some(model) => format!("Android ({model})"),
            None => "Android device".to_owned(),
        };
    }
    if has("windows phone") {
        return "Windows Phone".to_owned();
    }
    if has("tablet") {
        return "Tablet".to_owned();
    }
    if has("smart-tv") || has("smarttv") {
        return "Smart TV".to_owned();
    }
    if has("playstation") {
        return "PlayStation".to_owned();
    }
    if has("xbox") {
        return "Xbox".to_owned();
    }
    if has("nintendo") {
        return "Nintendo".to_owned();
    }
    let browser = detect_browser(&lower);
    let on = |platform: &str, fallback: &str| match browser {
        Some(b) => format!("{b} on {platform}"),
        None => fallback.to_owned(),
    };
    if has("macintosh") || has("mac os x") {
        return on("Mac", "Mac");
    }
    if has("windows") {
        return on("Windows", "Windows PC");
    }
    if has("linux") {
        return on("Linux", "Linux");
    }
    if has("cros") {
        return "Chromebook".to_owned();
    }
    browser.unwrap_or(UNKNOWN_DEVICE).to_owned()
}

/// Browser detection on the lower-cased User-Agent; first match wins.
fn detect_browser(lower: &str) -> Option<&'static str> {
    let has = |needle: &str| lower.contains(needle);
    if has("edg/") || has("edge/") {
        Some("Edge")
    } else if has("opr/") || has("opera") {
        Some("Opera")
    } else if has("chrome/") {
        Some("Chrome")
    } else if has("safari/") && !has("chrome") {
        Some("Safari")
    } else if has("firefox/") {
        Some("Firefox")
    } else if has("msie") || has("trident/") {
        Some("Internet Explorer")
    } else {
        None
    }
}

/// The title-cased Android model, when the model pattern matches and the capture is not blank.
fn android_model(ua: &str) -> Option<String> {
    let captures = ANDROID_MODEL.as_ref()?.captures(ua)?;
    let model = captures.get(1)?.as_str().trim();
    (!model.is_empty()).then(|| title_case(model))
}

/// Upper-cases a letter that starts the string or follows a non-letter; lower-cases every other letter.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_is_letter = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if prev_is_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            prev_is_letter = true;
        } else {
            out.push(c);
            prev_is_letter = false;
        }
    }
    out
}

/// The first `max` characters of `s` (whole characters, never splitting one).
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => s[..idx].to_owned(),
        None => s.to_owned(),
    }
}

/// Device information stored with a session; every value already truncated to its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Derived from the User-Agent (at most 255 characters).
    pub device_name: String,
    /// `X-Device-Id` as sent (at most 255 characters); `None` when absent or empty.
    pub device_id: Option<String>,
    /// Client IP in canonical text form (at most 45 characters).
    pub ip_address: Option<String>,
    /// Raw User-Agent (at most 500 characters); `None` when absent or empty.
    pub user_agent: Option<String>,
}

impl DeviceInfo {
    /// Builds the device information from raw header bytes (non-UTF-8 replaced by U+FFFD) and the
    /// resolved client IP; over-long values are truncated.
    pub fn from_request(
        user_agent: Option<&[u8]>,
        device_id: Option<&[u8]>,
        client_ip: Option<IpAddr>,
    ) -> Self {
        let user_agent = user_agent
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .filter(|s| !s.is_empty());
        let device_id = device_id
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .filter(|s| !s.is_empty())
            .map(|s| truncate_chars(&s, MAX_DEVICE_ID));
        Self {
            device_name: truncate_chars(&device_name(user_agent.as_deref()), MAX_DEVICE_NAME),
            device_id,
            ip_address: client_ip
                .map(|ip| truncate_chars(&ip.to_canonical().to_string(), MAX_IP_ADDRESS)),
            user_agent: user_agent.map(|s| truncate_chars(&s, MAX_USER_AGENT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC_CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const MAC_SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    const MAC_FIREFOX: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0";
    const WIN_EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const WIN_CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const WIN_OPERA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/105.0.0.0";
    const WIN_IE11: &str = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko";
    const WIN_IE9: &str = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)";
    const LINUX_FIREFOX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    const ANDROID_BUILD: &str = "Mozilla/5.0 (Linux; Android 13; SM-S918B Build/TP1A.220624.014) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36";
    const ANDROID_NO_BUILD: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    const CROS: &str = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    fn name(ua: &str) -> String {
        device_name(Some(ua))
    }

    #[test]
    fn unknown_when_absent_or_empty() {
        assert_eq!(device_name(None), "Unknown device");
        assert_eq!(device_name(Some("")), "Unknown device");
        assert_eq!(name("curl/8.4.0"), "Unknown device");
        assert_eq!(name("   "), "Unknown device");
    }

    #[test]
    fn mobile_devices() {
        assert_eq!(name(IPHONE), "iPhone");
        assert_eq!(name(IPAD), "iPad");
        assert_eq!(name("IPHONE"), "iPhone");
        assert_eq!(name(ANDROID_BUILD), "Android (Sm-S918B)");
        assert_eq!(name(ANDROID_NO_BUILD), "Android device");
        assert_eq!(
            name("Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K)"),
            "Android device",
            "the model must directly follow the first `;` after `android`"
        );
        assert_eq!(
            name("Mozilla/5.0 (Linux; Android 12; Pixel 6 Pro Build/SQ3A.220705.003)"),
            "Android (Pixel 6 Pro)"
        );
        assert_eq!(
            name("Dalvik/2.1.0 (Linux; U; ANDROID 11; moto g(30) BUILD/RRMS31)"),
            "Android device"
        );
        assert_eq!(
            name("Dalvik/2.1.0 (Linux; U; ANDROID 11; moto g power BUILD/RRMS31)"),
            "Android (Moto G Power)"
        );
        assert_eq!(
            name("Mozilla/5.0 (Linux; Android 9; mi a2 lite build/PKQ1)"),
            "Android (Mi A2 Lite)"
        );
        assert_eq!(
            name("Mozilla/5.0 (Linux; Android 14; o'neil x1  Build/X)"),
            "Android (O'Neil X1)"
        );
        assert_eq!(
            name(
                "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) Edge/15.14977"
            ),
            "Android device"
        );
        assert_eq!(
            name("Mozilla/5.0 (Windows Phone 8.1; ARM; Trident/7.0; IEMobile/11.0; Lumia 635)"),
            "Windows Phone"
        );
    }

    #[test]
    fn other_devices() {
        assert_eq!(
            name("Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0"),
            "Tablet"
        );
        assert_eq!(name("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0)"), "Smart TV");
        assert_eq!(
            name("Mozilla/5.0 (Web0S; SmartTV) AppleWebKit/537.36"),
            "Smart TV"
        );
        assert_eq!(
            name("Mozilla/5.0 (PlayStation 5 3.20) AppleWebKit/605.1.15"),
            "PlayStation"
        );
        assert_eq!(
            name("Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) Edge/44.18363.8131"),
            "Xbox"
        );
        assert_eq!(
            name("Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet)"),
            "Nintendo"
        );
        assert_eq!(name(CROS), "Chromebook");
    }

    #[test]
    fn desktop_browsers() {
        assert_eq!(name(MAC_CHROME), "Chrome on Mac");
        assert_eq!(name(MAC_SAFARI), "Safari on Mac");
        assert_eq!(name(MAC_FIREFOX), "Firefox on Mac");
        assert_eq!(name(WIN_EDGE), "Edge on Windows");
        assert_eq!(name(WIN_CHROME), "Chrome on Windows");
        assert_eq!(name(WIN_OPERA), "Opera on Windows");
        assert_eq!(name(WIN_IE11), "Internet Explorer on Windows");
        assert_eq!(name(WIN_IE9), "Internet Explorer on Windows");
        assert_eq!(name(LINUX_FIREFOX), "Firefox on Linux");
        assert_eq!(
            name("Opera/9.80 (X11; Linux i686) Presto/2.12.388"),
            "Opera on Linux"
        );
    }

    #[test]
    fn platform_without_browser() {
        assert_eq!(name("Macintosh"), "Mac");
        assert_eq!(name("something Mac OS X something"), "Mac");
        assert_eq!(name("Windows NT 10.0"), "Windows PC");
        assert_eq!(name("X11; Linux x86_64"), "Linux");
    }

    #[test]
    fn browser_only() {
        assert_eq!(name("Chrome/120.0"), "Chrome");
        assert_eq!(name("Safari/605.1"), "Safari");
        assert_eq!(name("Firefox/120.0"), "Firefox");
        assert_eq!(name("Edge/18"), "Edge");
        // `chrome` without a slash still blocks Safari, but does not itself give Chrome.
        assert_eq!(name("HeadlessChrome Safari/537"), "Unknown device");
    }

    #[test]
    fn title_case_rule() {
        assert_eq!(title_case("sm-g991b"), "Sm-G991B");
        assert_eq!(title_case("PIXEL 7"), "Pixel 7");
        assert_eq!(title_case("éCLAIR x"), "Éclair X");
        assert_eq!(title_case(""), "");
    }

    #[test]
    fn truncate_by_characters() {
        assert_eq!(truncate_chars("hello", 3), "hel");
        assert_eq!(truncate_chars("hello", 5), "hello");
        assert_eq!(truncate_chars("hello", 10), "hello");
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("😀😀😀", 2), "😀😀");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn from_request_basic() {
        let ip: IpAddr = [203, 0, 113, 7].into();
        let info =
            DeviceInfo::from_request(Some(MAC_CHROME.as_bytes()), Some(b"device-123"), Some(ip));
        assert_eq!(
            info,
            DeviceInfo {
                device_name: "Chrome on Mac".to_owned(),
                device_id: Some("device-123".to_owned()),
                ip_address: Some("203.0.113.7".to_owned()),
                user_agent: Some(MAC_CHROME.to_owned()),
            }
        );
    }

    #[test]
    fn from_request_empty_and_absent() {
        let info = DeviceInfo::from_request(Some(b""), Some(b""), None);
        assert_eq!(
            info,
            DeviceInfo {
                device_name: "Unknown device".to_owned(),
                device_id: None,
                ip_address: None,
                user_agent: None,
            }
        );
        let info = DeviceInfo::from_request(None, None, None);
        assert_eq!(info.device_name, "Unknown device");
        assert_eq!(info.device_id, None);
        assert_eq!(info.user_agent, None);
    }

    #[test]
    fn from_request_truncates() {
        let ua = format!("{MAC_CHROME}{}", "x".repeat(600));
        let id = "é".repeat(300);
        let info = DeviceInfo::from_request(Some(ua.as_bytes()), Some(id.as_bytes()), None);
        assert_eq!(info.device_name, "Chrome on Mac");
        assert_eq!(
            info.user_agent.as_deref().map(|s| s.chars().count()),
            Some(500)
        );
        assert_eq!(info.user_agent, Some(truncate_chars(&ua, 500)));
        assert_eq!(info.device_id, Some("é".repeat(255)));

        // A very long Android model makes a long device name: truncated to 255 characters.
        let long_model = format!("Linux; Android 13; {} Build/X", "m".repeat(400));
        let info = DeviceInfo::from_request(Some(long_model.as_bytes()), None, None);
        assert_eq!(info.device_name.chars().count(), 255);
        assert!(info.device_name.starts_with("Android (Mmmm"));
    }

    #[test]
    fn from_request_lossy_utf8_and_ip_forms() {
        let info = DeviceInfo::from_request(
            Some(b"Firefox/1\xff"),
            Some(b"id\xfe\xff"),
            Some(
                "::ffff:192.0.2.1"
                    .parse::<IpAddr>()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0])),
            ),
        );
        assert_eq!(info.user_agent.as_deref(), Some("Firefox/1\u{FFFD}"));
        assert_eq!(info.device_id.as_deref(), Some("id\u{FFFD}\u{FFFD}"));
        assert_eq!(info.ip_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(info.device_name, "Firefox");

        let v6: Result<IpAddr, _> = "2001:0DB8:0000:0000:0000:0000:0000:0001".parse();
        let info = DeviceInfo::from_request(None, None, v6.ok());
        assert_eq!(info.ip_address.as_deref(), Some("2001:db8::1"));
    }
}
