// embed_text: load a sentence-transformers model with libsbert, embed sentences and print
// their pairwise cosine similarities.
//   embed_text MODEL_DIR [SENTENCES_FILE]
#include <sbert/sbert.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: embed_text MODEL_DIR [SENTENCES_FILE]\n");
    return 2;
  }
  std::vector<std::string> sentences = {"A man is eating food.",
                                        "A man is eating a piece of bread.",
                                        "A man is riding a horse.", "A monkey is playing drums."};
  if (argc > 2) {
    std::ifstream in(argv[2]);
    if (!in) {
      std::fprintf(stderr, "embed_text: error: cannot open %s\n", argv[2]);
      return 1;
    }
    sentences.clear();
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) sentences.push_back(line);
    }
  }
  try {
    const sbert::Model model = sbert::Model::load(argv[1]);
    const sbert::Embeddings e = model.embed(sentences);
    std::printf("%zu sentences, %lld dimensions (%s pooling%s)\n\n", sentences.size(),
                static_cast<long long>(e.dim), sbert::to_string(model.config().pooling),
                model.config().normalize ? ", normalized" : "");
    for (size_t i = 0; i < sentences.size(); ++i)
      std::printf("[%zu] %s\n", i, sentences[i].c_str());
    std::printf("\ncosine similarity\n     ");
    for (size_t j = 0; j < sentences.size(); ++j) std::printf("  [%zu] ", j);
    std::printf("\n");
    for (size_t i = 0; i < sentences.size(); ++i) {
      std::printf("[%zu] ", i);
      for (size_t j = 0; j < sentences.size(); ++j) {
        std::printf(" %5.3f", static_cast<double>(
                                  e.cosine(static_cast<int64_t>(i), static_cast<int64_t>(j))));
      }
      std::printf("\n");
    }
  } catch (const sbert::Error& err) {
    std::fprintf(stderr, "embed_text: error: %s\n", err.what());
    return 1;
  }
  return 0;
}
