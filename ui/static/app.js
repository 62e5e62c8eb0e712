// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // "Select all" checkbox for the inbox's bulk decisions.
  document.querySelectorAll("[data-select-all]").forEach(function (master) {
    var name = master.getAttribute("data-select-all");
    var boxes = master.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    master.hidden = false;
    master.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = master.checked; });
    });
  });

  // Filter a long list of people by typing part of a name.
  document.querySelectorAll("[data-filter-list]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("data-filter-list"));
    if (!list || list.children.length < 8) return;
    input.hidden = false;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(list.children, function (li) {
        var text = (li.getAttribute("data-filter-text") || "").toLowerCase();
        var checked = li.querySelector("input:checked");
        li.hidden = needle !== "" && text.indexOf(needle) === -1 && !checked;
      });
    });
  });

  // Ask before a form that takes access away (data-confirm="the question").
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // "Go back" on error pages.
  document.querySelectorAll("[data-back]").forEach(function (button) {
    if (window.history.length < 2) return;
    button.hidden = false;
    button.addEventListener("click", function () { window.history.back(); });
  });
})();
