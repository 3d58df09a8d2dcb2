//! The photo checks by name, and every word said about them: one table holding, for
//! each check, its plain name (shown ticked when it passes) and the advice for each way
//! it can fail, in Japanese and English. The crop report (`crop::CheckResult`), the
//! command line's reasons and the kiosk's photo screen all read it here.

/// A quality check of the ID photo (serialised by its stable snake_case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    FaceCount,
    FaceSize,
    CutOff,
    OffCentre,
    Roll,
    TooDark,
    Overexposed,
    Blur,
}

/// How a check failed, where one check can fail in more than one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The check's one way of failing.
    Failed,
    /// `face_count`: no face at all.
    NoFace,
    /// `face_count`: more than one face.
    SeveralFaces,
}

/// A text in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub ja: &'static str,
    pub en: &'static str,
}

const fn t(ja: &'static str, en: &'static str) -> Text {
    Text { ja, en }
}

impl CheckId {
    /// Every check, in the order the report lists them.
    pub const ALL: [CheckId; 8] = [
        CheckId::FaceCount,
        CheckId::FaceSize,
        CheckId::CutOff,
        CheckId::OffCentre,
        CheckId::Roll,
        CheckId::TooDark,
        CheckId::Overexposed,
        CheckId::Blur,
    ];

    /// The stable identifier (the JSON report's `check`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::FaceCount => "face_count",
            CheckId::FaceSize => "face_size",
            CheckId::CutOff => "cut_off",
            CheckId::OffCentre => "off_centre",
            CheckId::Roll => "roll",
            CheckId::TooDark => "too_dark",
            CheckId::Overexposed => "overexposed",
            CheckId::Blur => "blur",
        }
    }

    /// What a passed check means, in plain words.
    pub fn name(self) -> Text {
        match self {
            CheckId::FaceCount => t("顔がひとつ写っています", "One face in view"),
            CheckId::FaceSize => t("顔の大きさ", "Face size"),
            CheckId::CutOff => t("頭と肩が枠に入っています", "Head and shoulders in frame"),
            CheckId::OffCentre => t("顔が中央にあります", "Face centred"),
            CheckId::Roll => t("顔がまっすぐです", "Head straight"),
            CheckId::TooDark => t("明るさ", "Brightness"),
            CheckId::Overexposed => t("白飛びなし", "No glare"),
            CheckId::Blur => t("ピント", "Sharpness"),
        }
    }

    /// What to do about a failed check.
    pub fn advice(self, how: Failure) -> Text {
        match (self, how) {
            (CheckId::FaceCount, Failure::NoFace) => t(
                "顔が見つかりません。正面を向いてカメラに顔を向けてください",
                "no face found: face the camera",
            ),
            (CheckId::FaceCount, _) => t(
                "複数の顔が写っています。申請者お一人だけで撮影してください",
                "several faces: only the applicant may be in the picture",
            ),
            (CheckId::FaceSize, _) => t(
                "顔が小さすぎます。もう少しカメラに近づいてください",
                "face too small: move closer to the camera",
            ),
            (CheckId::CutOff, _) => t(
                "頭や肩が画面から切れています。画面の中央に収まるようにしてください",
                "head or shoulders cut off: the crop leaves the frame",
            ),
            (CheckId::OffCentre, _) => t(
                "顔が中央からずれています。画面の中央に立ってください",
                "face off-centre: stand in the middle of the frame",
            ),
            (CheckId::Roll, _) => t(
                "顔が傾いています。頭をまっすぐにしてください",
                "head tilted: keep the head straight",
            ),
            (CheckId::TooDark, _) => t(
                "暗すぎます。照明を明るくしてください",
                "too dark: add light",
            ),
            (CheckId::Overexposed, _) => t(
                "明るすぎます（白とび）。照明や逆光を調整してください",
                "overexposed: reduce light or avoid strong backlight",
            ),
            (CheckId::Blur, _) => t(
                "ぼやけています。動かずにピントを合わせてください",
                "blurred: hold still and focus",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_distinct_names_and_advice_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for id in CheckId::ALL {
            let v = serde_json::to_value(id).unwrap_or_default();
            assert_eq!(v.as_str(), Some(id.as_str()));
            for text in [id.name(), id.advice(Failure::Failed)] {
                assert!(!text.ja.is_empty() && !text.en.is_empty(), "{id:?}");
                assert_ne!(text.ja, text.en, "{id:?}");
            }
            assert!(seen.insert(id.name().en), "{id:?}: name used twice");
        }
        assert_ne!(
            CheckId::FaceCount.advice(Failure::NoFace),
            CheckId::FaceCount.advice(Failure::SeveralFaces)
        );
    }
}
