// libFuzzer target: the model reader of predict and top-terms (io/model.hpp). A model it
// accepts must be safe to use: the tree is descended and the labels it yields lie in [0, k).
#include "fuzz_support.hpp"
#include "lloyd/io/model.hpp"

namespace {

template <class T>
void read_and_use(const std::string& path) {
  using namespace lloyd;
  try {
    const Model<T> model = read_model<T>(fuzz::world(), {path, "/centroids"});
    if (model.tree) {
      const std::vector<T> row(static_cast<std::size_t>(model.centroids.cols()), T{0});
      const std::size_t leaf = model.tree->descend(row.data());
      if (!model.tree->is_leaf(leaf) || model.tree->label[leaf] < 0 ||
          model.tree->label[leaf] >= model.centroids.rows())
        std::abort();
      if (model.tree->leaves().size() != static_cast<std::size_t>(model.centroids.rows())) std::abort();
    }
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const lloyd::fuzz::Vocabulary vocabulary = lloyd::fuzz::model_vocabulary();
  const lloyd::fuzz::InputFile input(data, size, vocabulary);
  read_and_use<double>(input.path());
  read_and_use<float>(input.path());
  return 0;
}
