#include "security/store_edit.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

namespace castor::security {

std::vector<std::string> permission_names(permission_set s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < permission_count; ++i) {
    auto p = static_cast<permission>(i);
    if (s.contains(p))
      out.emplace_back(to_string(p));
  }
  return out;
}

store_doc doc_of(const security_store& store) {
  store_doc d;
  for (auto& [name, p] : store.principals())
    d.principals[name] = store_doc::principal{to_string(p.hash), p.roles};
  for (auto& [name, r] : store.roles()) {
    store_doc::role role;
    role.global = permission_names(r.global);
    role.default_path = permission_names(r.default_path);
    for (auto& [path, perms] : r.paths)
      role.paths[path] = permission_names(perms);
    role.includes = r.includes;
    d.roles[name] = std::move(role);
  }
  d.anonymous_allowed = store.anonymous_allowed();
  d.anonymous_roles = store.anonymous_roles();
  d.isolated_paths.assign(store.isolated_paths().begin(),
                          store.isolated_paths().end());
  return d;
}

namespace {

void flow_list(YAML::Emitter& out, const std::vector<std::string>& items) {
  out << YAML::Flow << YAML::BeginSeq;
  for (auto& i : items)
    out << YAML::DoubleQuoted << i;
  out << YAML::EndSeq;
}

} // namespace

std::string to_yaml(const store_doc& doc) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "principals" << YAML::Value << YAML::BeginMap;
  for (auto& [name, p] : doc.principals) {
    out << YAML::Key << YAML::DoubleQuoted << name << YAML::Value
        << YAML::BeginMap;
    out << YAML::Key << "password" << YAML::Value << YAML::DoubleQuoted
        << p.hash;
    out << YAML::Key << "roles" << YAML::Value;
    flow_list(out, p.roles);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "roles" << YAML::Value << YAML::BeginMap;
  for (auto& [name, r] : doc.roles) {
    out << YAML::Key << YAML::DoubleQuoted << name << YAML::Value
        << YAML::BeginMap;
    out << YAML::Key << "global" << YAML::Value;
    flow_list(out, r.global);
    out << YAML::Key << "default_path" << YAML::Value;
    flow_list(out, r.default_path);
    out << YAML::Key << "paths" << YAML::Value << YAML::BeginMap;
    for (auto& [path, perms] : r.paths) {
      out << YAML::Key << YAML::DoubleQuoted << path << YAML::Value;
      flow_list(out, perms);
    }
    out << YAML::EndMap;
    out << YAML::Key << "includes" << YAML::Value;
    flow_list(out, r.includes);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "anonymous" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "allow" << YAML::Value
      << (doc.anonymous_allowed ? "true" : "false");
  out << YAML::Key << "roles" << YAML::Value;
  flow_list(out, doc.anonymous_roles);
  out << YAML::EndMap;
  out << YAML::Key << "isolated_paths" << YAML::Value;
  flow_list(out, doc.isolated_paths);
  out << YAML::EndMap;
  return std::string{out.c_str()} + "\n";
}

std::variant<security_store, store_error>
build_store(const store_doc& doc, const security_store& previous,
            const std::string& name) {
  auto res = parse_security_store(to_yaml(doc), name);
  if (auto store = std::get_if<security_store>(&res))
    store->keep_stand_in_secret_of(previous);
  return res;
}

std::vector<std::string> uses_of(const store_doc& doc,
                                 const std::string& role) {
  std::vector<std::string> out;
  auto has = [&](const std::vector<std::string>& v) {
    for (auto& x : v)
      if (x == role)
        return true;
    return false;
  };
  for (auto& [name, p] : doc.principals)
    if (has(p.roles))
      out.push_back("principals." + name);
  for (auto& [name, r] : doc.roles)
    if (name != role && has(r.includes))
      out.push_back("roles." + name + ".includes");
  if (has(doc.anonymous_roles))
    out.emplace_back("anonymous.roles");
  return out;
}

std::optional<std::string> save_file_atomically(const std::string& path,
                                                const std::string& text) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? std::string{"."}
                                               : path.substr(0, slash + 1);
  mode_t mode = 0600;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0)
    mode = st.st_mode & 07777;
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    return "cannot create a temporary file beside " + path + ": "
           + std::strerror(errno);
  auto fail = [&](const char* what) {
    std::string why = std::string(what) + " " + tmp + ": "
                      + std::strerror(errno);
    if (fd >= 0)
      ::close(fd);
    ::unlink(tmp.c_str());
    return why;
  };
  if (::fchmod(fd, mode) != 0)
    return fail("cannot set the mode of");
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail("cannot fsync");
  if (::close(fd) != 0) {
    fd = -1;
    return fail("cannot close");
  }
  fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail("cannot rename over the store file");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return std::nullopt;
}

} // namespace castor::security
