// The workflow designer: bpmn-js modeler, server-side validation with the offending element
// marked on the diagram, deploy as a draft for review.
(function () {
  "use strict";
  var root = document.getElementById("modeler");
  if (!root) return;
  var message = document.getElementById("designer-message");
  if (typeof window.BpmnJS !== "function") {
    show("error", "The modeler script is missing: run `npm ci` in the accessflow folder.");
    return;
  }
  var csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  var modeler = new window.BpmnJS({ container: "#canvas" });
  var canvas = modeler.get("canvas");
  var overlays = modeler.get("overlays");
  var registry = modeler.get("elementRegistry");
  var modeling = modeler.get("modeling");
  var selection = modeler.get("selection");
  var select = document.getElementById("element-select");
  var nameInput = document.getElementById("element-name");
  var marked = null;

  function show(kind, text) {
    message.className = "designer-message flash flash-" + kind;
    message.setAttribute("role", kind === "error" ? "alert" : "status");
    message.textContent = text;
  }

  function clearMark() {
    if (marked && registry.get(marked)) canvas.removeMarker(marked, "af-invalid");
    overlays.remove({ type: "af-validation" });
    marked = null;
  }

  function mark(elementId, text) {
    clearMark();
    if (!elementId || !registry.get(elementId)) return;
    marked = elementId;
    canvas.addMarker(elementId, "af-invalid");
    var note = document.createElement("div");
    note.className = "af-invalid-note";
    note.textContent = text;
    overlays.add(elementId, "af-validation", { position: { bottom: -8, left: 0 }, html: note });
    selection.select(registry.get(elementId));
    canvas.scrollToElement(registry.get(elementId));
  }

  function label(element) {
    var bo = element.businessObject;
    var type = element.type.replace("bpmn:", "");
    return (bo.name ? bo.name + " · " : "") + type + " #" + element.id;
  }

  function fillElements() {
    var current = select.value;
    select.textContent = "";
    var empty = document.createElement("option");
    empty.value = "";
    empty.textContent = "Choose an element…";
    select.appendChild(empty);
    registry
      .filter(function (e) { return e.type !== "label" && e.businessObject && e.parent; })
      .sort(function (a, b) { return label(a).localeCompare(label(b)); })
      .forEach(function (e) {
        var option = document.createElement("option");
        option.value = e.id;
        option.textContent = label(e);
        select.appendChild(option);
      });
    select.value = current;
  }

  function showElement(element) {
    document.getElementById("element-id").textContent = element ? element.id : "—";
    document.getElementById("element-type").textContent = element ? element.type.replace("bpmn:", "") : "—";
    nameInput.value = element ? element.businessObject.name || "" : "";
    select.value = element ? element.id : "";
  }

  function importXml(xml) {
    clearMark();
    return modeler.importXML(xml).then(function () {
      canvas.zoom("fit-viewport");
      fillElements();
      showElement(null);
    }).catch(function (err) {
      show("error", "This file cannot be opened as BPMN: " + err.message);
    });
  }

  function post(url) {
    return modeler.saveXML({ format: true }).then(function (result) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/xml", "X-CSRFToken": csrfToken },
        body: result.xml,
      });
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; },
        function () { return { status: response.status, body: { ok: false, error: "The server answered " + response.status + "." } }; });
    });
  }

  function refuse(body) {
    var where = body.element ? " (element " + body.element + " is marked on the diagram)" : "";
    show("error", body.error + where);
    mark(body.element, body.error);
  }

  document.getElementById("validate-button").addEventListener("click", function () {
    show("info", "Validating on the server…");
    post(root.dataset.validateUrl).then(function (answer) {
      if (answer.body.ok) { clearMark(); show("success", answer.body.message); } else { refuse(answer.body); }
    }).catch(function (err) { show("error", "Validation failed: " + err.message); });
  });

  document.getElementById("deploy-button").addEventListener("click", function () {
    show("info", "Deploying…");
    post(root.dataset.deployUrl).then(function (answer) {
      if (answer.body.ok) { window.location.assign(answer.body.location); } else { refuse(answer.body); }
    }).catch(function (err) { show("error", "Deploy failed: " + err.message); });
  });

  document.getElementById("download-button").addEventListener("click", function () {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
      link.download = root.dataset.fileName;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });

  document.getElementById("open-file").addEventListener("change", function (event) {
    var file = event.target.files[0];
    if (!file) return;
    file.text().then(function (xml) {
      importXml(xml).then(function () { show("info", "Opened " + file.name + ": validate or deploy it."); });
    });
  });

  select.addEventListener("change", function () {
    var element = registry.get(select.value);
    if (element) { selection.select(element); canvas.scrollToElement(element); }
    showElement(element || null);
  });

  document.getElementById("apply-name").addEventListener("click", function () {
    var element = registry.get(select.value);
    if (!element) { show("error", "Choose an element first."); return; }
    modeling.updateProperties(element, { name: nameInput.value });
    fillElements();
    showElement(element);
    show("info", "Renamed " + element.id + ". Validate or deploy to keep the change.");
  });

  modeler.on("selection.changed", function (event) {
    var element = event.newSelection.length === 1 ? event.newSelection[0] : null;
    if (element && element.type === "label") element = element.labelTarget;
    showElement(element);
  });
  modeler.on("elements.changed", function () { fillElements(); });

  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(importXml);
})();
