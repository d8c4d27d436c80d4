// Static pages are our own fixed copy, written as HTML for readability; nothing from a
// user or the server is ever put into these strings.

export function renderProse(root, html) {
  const template = document.createElement('template');
  template.innerHTML = html.trim();
  const section = document.createElement('section');
  section.className = 'page narrow prose';
  section.append(template.content);
  root.append(section);
  const heading = section.querySelector('h1');
  if (heading) heading.tabIndex = -1;
  return section;
}
