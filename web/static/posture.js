// posture's portal works without this file; it adds conveniences only.
document.addEventListener("DOMContentLoaded", function () {
  // "Select all" check boxes select the rows of their table.
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      var table = all.closest("table");
      table.querySelectorAll("input[name='" + all.dataset.selectAll + "']").forEach(function (box) { box.checked = all.checked; });
    });
  });
  // Buttons with data-confirm ask before they submit.
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) { e.preventDefault(); } });
  });
});
// htmx requests carry the session's anti-forgery token.
document.addEventListener("htmx:configRequest", function (e) {
  var t = document.querySelector("input[name='csrf']");
  if (t) { e.detail.headers["X-CSRF-Token"] = t.value; }
});
