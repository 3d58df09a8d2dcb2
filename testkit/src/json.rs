//! Reading JSON answers and files.

/// The string `field` of every object in the JSON array `array` (panics on any other
/// shape).
pub fn strs<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap())
        .collect()
}

/// The keys of the JSON object `v`, sorted (panics if `v` is no object).
pub fn keys(v: &serde_json::Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}
