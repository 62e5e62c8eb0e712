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

  // A button that destroys something (cancel, reject, remove) asks first: data-confirm holds
  // the question. Without JavaScript the button works as a plain one.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    // A form may carry the question itself (data-confirm on the form).
    var question = (button && button.getAttribute("data-confirm")) ||
      (event.target.getAttribute && event.target.getAttribute("data-confirm"));
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // A form with data-warn-unsaved asks before the page is left with edits nobody saved.
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function (event) {
      if (!event.defaultPrevented) dirty = false;  // its edits go with whichever button
    });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = form.getAttribute("data-warn-unsaved");
    });
  });

  // A role select that follows an application select: only the chosen application's roles
  // are offered (data-roles-of names the application select; each role option carries
  // data-application). Without JavaScript every role shows, labelled with its application.
  document.querySelectorAll("select[data-roles-of]").forEach(function (roles) {
    var apps = document.getElementById(roles.getAttribute("data-roles-of"));
    if (!apps) return;
    function follow() {
      Array.prototype.forEach.call(roles.options, function (option) {
        var owner = option.getAttribute("data-application");
        option.hidden = option.disabled = owner !== null && owner !== apps.value;
      });
      if (roles.selectedOptions.length && roles.selectedOptions[0].disabled) roles.value = "";
    }
    apps.addEventListener("change", follow);
    follow();
  });

  // "Go back" on error pages.
  document.querySelectorAll("[data-back]").forEach(function (button) {
    if (window.history.length < 2) return;
    button.hidden = false;
    button.addEventListener("click", function () { window.history.back(); });
  });
})();
