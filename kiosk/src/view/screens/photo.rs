//! The photo: guide, checks in plain words, countdown and capture.

use egui::{Color32, Pos2, Rect, RichText, Stroke, StrokeKind, Ui, Vec2};

use crate::i18n::{self, T};
use crate::kiosk::Kiosk;

use crate::view::preview::*;
use crate::view::theme::*;
use crate::view::widgets::*;

/// Height of the list of photo checks (eight lines).
const CHECKS_H: f32 = 260.0;

pub(crate) fn photo(ui: &mut Ui, k: &mut Kiosk, tex: &mut Textures) {
    let lang = k.lang;
    live_head(ui, k, tex, k.applicant.photo.as_ref().map(|v| &v.preview));
    ui.horizontal_top(|ui| {
        match (&tex.preview, &k.applicant.photo) {
            (Some(t), Some(v)) => {
                let (r, s) = preview_image(ui, t, Vec2::new(640.0, 540.0));
                // Face-position guide: a 35:45 frame with an oval where the face goes,
                // until a face is found; then the crop actually made is drawn instead
                // (a fixed guide did not match it).
                if v.crop.is_none() {
                    let gh = r.height() * 0.9;
                    let gw = gh * 35.0 / 45.0;
                    let g = Rect::from_center_size(r.center(), Vec2::new(gw, gh));
                    let white = Stroke::new(3.0, Color32::from_white_alpha(220));
                    ui.painter().rect_stroke(g, 4, white, StrokeKind::Inside);
                    ui.painter().add(egui::Shape::ellipse_stroke(
                        g.center() - Vec2::new(0.0, gh * 0.05),
                        Vec2::new(gw * 0.32, gh * 0.36),
                        white,
                    ));
                }
                // A box on every face found, so the clerk sees what the camera sees
                // (with two faces there is no crop to draw).
                let face_color = if v.accepted() { OK } else { BAD };
                for f in &v.faces {
                    ui.painter().rect_stroke(
                        to_screen(f, r.min, s),
                        2,
                        Stroke::new(3.0, face_color),
                        StrokeKind::Outside,
                    );
                }
                if let Some(c) = &v.crop {
                    let color = if v.accepted() { OK } else { BAD };
                    ui.painter().rect_stroke(
                        to_screen(c, r.min, s),
                        2,
                        Stroke::new(5.0, color),
                        StrokeKind::Outside,
                    );
                }
                if let Some(n) = k.countdown() {
                    let band = Rect::from_min_max(
                        Pos2::new(r.left(), r.bottom() - 64.0),
                        r.right_bottom(),
                    );
                    ui.painter()
                        .rect_filled(band, 0, Color32::from_black_alpha(170));
                    ui.painter().text(
                        band.center(),
                        egui::Align2::CENTER_CENTER,
                        i18n::countdown(n, lang),
                        egui::FontId::proportional(40.0),
                        Color32::WHITE,
                    );
                }
            }
            _ => no_camera(ui, lang, Vec2::new(640.0, 540.0)),
        }
        ui.add_space(16.0);
        ui.vertical(|ui| {
            ui.label(RichText::new(T::PhotoHint.get(lang)).size(TEXT).strong());
            ui.add_space(8.0);
            // The list has a fixed height (eight checks), so the buttons below it do
            // not move with the number of checks listed.
            let photo = k.applicant.photo.as_ref();
            fixed_slot(
                ui,
                Vec2::new(ui.available_width(), CHECKS_H),
                |ui| match photo {
                    Some(v) => {
                        ui.spacing_mut().item_spacing.y = 2.0;
                        for c in &v.report.checks {
                            let pass = c.verdict == shinsei_capture::Verdict::Pass;
                            let (mark, color) = if pass { ("✔", OK) } else { ("✖", BAD) };
                            let text = if pass {
                                i18n::check_name(c.check, lang).to_string()
                            } else {
                                i18n::check_failure(c, lang).to_string()
                            };
                            ui.label(
                                RichText::new(format!("{mark} {text}"))
                                    .size(20.0)
                                    .color(color),
                            );
                        }
                    }
                    None => {
                        ui.label(T::PhotoChecking.get(lang));
                    }
                },
            );
            ui.add_space(16.0);
            if primary_button(ui, T::TakePhoto.get(lang), k.can_take_photo()) {
                k.take_photo();
            }
            ui.horizontal(|ui| {
                if ui
                    .add(
                        egui::Button::new(RichText::new(T::Back.get(lang)).size(28.0))
                            .min_size(Vec2::new(150.0, 80.0)),
                    )
                    .clicked()
                {
                    k.back();
                }
                // The checks cannot be passed (an infant held by a parent, a head
                // that cannot be held straight): a supervisor may approve an exception.
                if ui
                    .add_enabled(
                        k.can_override(),
                        egui::Button::new(RichText::new(T::OverrideButton.get(lang)).size(20.0))
                            .min_size(Vec2::new(200.0, 80.0)),
                    )
                    .clicked()
                {
                    k.start_override();
                }
            });
        });
    });
}
